"""Checkpoints that describe themselves: safetensors tensors + JSON config that rebuilds every module.

Layout of a run folder::

    RUN/checkpoints/step-0000200/config.json          family, method, interface, models {attr: {name, config}}, loss network, train args
    RUN/checkpoints/step-0000200/model.safetensors    every module's weights, keys "<attr>.<param>"
    RUN/checkpoints/step-0000200/train_state.safetensors  optimiser tensors, RNG state
    RUN/checkpoints/step-0000200/train_state.json     step, loss history, optimiser scalars
    RUN/checkpoints/LATEST                            name of the newest checkpoint

Each checkpoint folder is written under a temporary name and renamed; LATEST is replaced
atomically, so a crash mid-save never leaves a half checkpoint behind.
"""
from __future__ import annotations

import json
from pathlib import Path

from ...runtime.atomic import atomic_dir, write_text
from ...runtime.errors import StyleForgeError

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
STATE_TENSORS = "train_state.safetensors"
STATE_JSON = "train_state.json"


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint folder from a checkpoint folder, a run folder, or a run's checkpoints/ folder."""
    path = Path(path)
    if (path / CONFIG).is_file() and (path / WEIGHTS).is_file():
        return path
    for base in (path / "checkpoints", path):
        latest = base / "LATEST"
        if latest.is_file():
            ckpt = base / latest.read_text().strip()
            if (ckpt / CONFIG).is_file():
                return ckpt
    if not path.exists():
        raise StyleForgeError(f"{path}: no such checkpoint or run folder")
    raise StyleForgeError(f"{path}: not a checkpoint (no {CONFIG} + {WEIGHTS}, and no checkpoints/LATEST)")


def read_config(path: str | Path) -> dict:
    """The JSON config of a checkpoint (no torch needed), in today's vocabulary (:func:`upgrade_config`)."""
    ckpt = resolve_checkpoint(path)
    try:
        config = json.loads((ckpt / CONFIG).read_text("utf-8"))
    except json.JSONDecodeError as e:
        raise StyleForgeError(f"{ckpt / CONFIG}: not valid JSON ({e})") from None
    return upgrade_config(config, where=ckpt / CONFIG)


#: configs written before the family/method/interface vocabulary kept one ``family`` key whose value was the
#: method (or "generator" for every latent GAN, whose method was ``gan_family``): old value -> (family, interface)
_OLD_FAMILY = {
    "generator": ("gan", "generator"),
    "pix2pix": ("image2image", "translator"),
    "cyclegan": ("image2image", "translator"),
    "stylizer": ("stylizer", "stylizer"),
    "wct-decoder": ("wct", "wct"),
    "template": ("template", "translator"),
}


def upgrade_config(config: dict, *, where: object = "checkpoint config") -> dict:
    """A checkpoint config with ``family`` (code package), ``method`` (trainer) and ``interface`` (what its bundles
    offer). Configs that already have ``method`` are returned as they are; an old config is upgraded in memory (the
    file is left as it was). The one place that knows the old layout."""
    if "method" in config:
        return config
    old = config.get("family")
    if old not in _OLD_FAMILY:
        raise StyleForgeError(f"{where}: unknown checkpoint family {old!r} (and no 'method' key)")
    family, interface = _OLD_FAMILY[old]
    new = {k: v for k, v in config.items() if k != "gan_family"}
    new.update(family=family, method=config.get("gan_family") or old, interface=interface)
    if isinstance(new.get("train"), dict) and "family" in new["train"]:   # old GAN runs recorded the method there too
        new["train"] = {k: v for k, v in new["train"].items() if k != "family"}
    return new


def _flatten_optimizer(prefix: str, sd: dict, tensors: dict, meta: dict) -> None:
    import torch

    meta[prefix] = {"param_groups": sd["param_groups"], "state": {}}
    for idx, st in sd["state"].items():
        m = {}
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"{prefix}.state.{idx}.{k}"] = v.detach().cpu().contiguous().clone()
                m[k] = "__tensor__"
            else:
                m[k] = v
        meta[prefix]["state"][str(idx)] = m


def _unflatten_optimizer(prefix: str, tensors: dict, meta: dict) -> dict:
    state = {}
    for idx, st in meta[prefix]["state"].items():
        state[int(idx)] = {k: tensors[f"{prefix}.state.{idx}.{k}"] if v == "__tensor__" else v for k, v in st.items()}
    return {"state": state, "param_groups": meta[prefix]["param_groups"]}


def save_checkpoint(run_dir: str | Path, step: int, *, config: dict, modules: dict, optimizers: dict | None = None,
                    schedulers: dict | None = None, extra_tensors: dict | None = None, state: dict | None = None) -> Path:
    """Write checkpoint ``step-{step:07d}`` under RUN/checkpoints and point LATEST at it."""
    import torch
    from safetensors.torch import save_file

    ckdir = Path(run_dir) / "checkpoints"
    name = f"step-{step:07d}"
    weights = {}
    for attr, module in modules.items():
        for k, v in module.state_dict().items():
            weights[f"{attr}.{k}"] = v.detach().cpu().contiguous().clone()
    tensors, meta = {}, {"optimizers": {}, "schedulers": {}}
    for attr, opt in (optimizers or {}).items():
        _flatten_optimizer(attr, opt.state_dict(), tensors, meta["optimizers"])
    for attr, sch in (schedulers or {}).items():
        meta["schedulers"][attr] = sch.state_dict()
    tensors["rng.torch"] = torch.get_rng_state()
    for i, st in enumerate(_cuda_rng_states()):  # one per CUDA device (sampling on a GPU draws from these)
        tensors[f"rng.cuda.{i}"] = st
    for k, v in (extra_tensors or {}).items():
        tensors[f"extra.{k}"] = v.detach().cpu().contiguous().clone()
    train_state = {"step": step, **(state or {}), **meta}
    with atomic_dir(ckdir / name, kind="checkpoint") as tmp:
        (tmp / CONFIG).write_text(json.dumps({**config, "step": step}, indent=2) + "\n", "utf-8")
        save_file(weights, str(tmp / WEIGHTS))
        save_file(tensors, str(tmp / STATE_TENSORS))
        (tmp / STATE_JSON).write_text(json.dumps(train_state, indent=1) + "\n", "utf-8")
    write_text(ckdir / "LATEST", name + "\n")
    return ckdir / name


def _cuda_rng_states() -> list:
    """The CUDA generators' states, one per device, when CUDA is in use (empty on CPU-only machines)."""
    import torch

    if not torch.cuda.is_available():
        return []
    return [st.cpu() for st in torch.cuda.get_rng_state_all()]


def load_weights(path: str | Path) -> dict:
    """All weights of a checkpoint as ``{"<attr>.<param>": tensor}``."""
    from safetensors.torch import load_file

    return load_file(str(resolve_checkpoint(path) / WEIGHTS))


def load_modules(path: str | Path, attrs: list[str] | None = None) -> tuple[dict, dict]:
    """Rebuild the checkpoint's modules from its config via the registry and load their weights.

    Returns ``(modules, config)``; modules are in eval mode.
    """
    from .registry import build_model

    ckpt = resolve_checkpoint(path)
    config = read_config(ckpt)
    weights = load_weights(ckpt)
    modules = {}
    for attr, spec in config["models"].items():
        if attrs is not None and attr not in attrs:
            continue
        m = build_model(spec["name"], **spec.get("config", {}))
        sd = {k[len(attr) + 1:]: v for k, v in weights.items() if k.startswith(attr + ".")}
        m.load_state_dict(sd)
        modules[attr] = m.eval()
    return modules, config


def load_train_state(path: str | Path, *, modules: dict, optimizers: dict | None = None,
                     schedulers: dict | None = None) -> dict:
    """Restore modules, optimisers, schedulers and the torch RNGs (CPU, and CUDA when saved and present); returns
    train_state.json's dict
    (``step``, ``history``, … and ``extra_tensors``)."""
    import torch
    from safetensors.torch import load_file

    ckpt = resolve_checkpoint(path)
    weights = load_weights(ckpt)
    for attr, module in modules.items():
        module.load_state_dict({k[len(attr) + 1:]: v for k, v in weights.items() if k.startswith(attr + ".")})
    tensors = load_file(str(ckpt / STATE_TENSORS))
    state = json.loads((ckpt / STATE_JSON).read_text("utf-8"))
    for attr, opt in (optimizers or {}).items():
        opt.load_state_dict(_unflatten_optimizer(attr, tensors, state["optimizers"]))
    for attr, sch in (schedulers or {}).items():
        sch.load_state_dict(state["schedulers"][attr])
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[f"rng.cuda.{i}"] for i in range(len([k for k in tensors if k.startswith("rng.cuda.")]))]
    if cuda and torch.cuda.is_available():
        n = torch.cuda.device_count()
        if len(cuda) != n:
            import warnings

            warnings.warn(f"{ckpt}: saved with {len(cuda)} CUDA device(s), resumed with {n}: the CUDA random streams "
                          "of the devices present are restored, so sampling on them continues as before")
        for i, st in enumerate(cuda[:n]):
            torch.cuda.set_rng_state(st, i)
    state["extra_tensors"] = {k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")}
    return state
