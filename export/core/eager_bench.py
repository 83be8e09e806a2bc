"""The PyTorch rows of ``styleforge bench`` (runtime/latency.py): the bundle's exported module through
:class:`TorchRunner` (``torch-eager`` on the CPU, ``torch-cuda`` on a GPU), fed the same pixels as the runtime
rows (padded to the bundle's multiple, float NCHW in [0, 255] as the fp32 graph takes them), and for WCT bundles
``torch-exact``: the PytorchWCT-style pipeline (train/wct/pipeline.py in ``exact`` mode: one encoder pass per
level, eigh in float64), with the style statistics computed once, as the runtime caches them."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...runtime.errors import StyleForgeError
from ...runtime.interfaces import interface_spec
from ...runtime.io_plan import pad_batch
from ...runtime.latency import Contender


def eager_checkpoint(bundle, checkpoint=None) -> Path:
    """The checkpoint behind a bundle: `checkpoint`, else the bundle's source checkpoint (which must still exist)."""
    from ...runtime.bundle import read_manifest

    if checkpoint is None:
        src = read_manifest(bundle).source_checkpoint
        if not src:
            raise StyleForgeError(f"{bundle}: manifest names no source checkpoint; pass --checkpoint or --no-torch")
        if not Path(src).exists():
            raise StyleForgeError(f"{bundle}: its source checkpoint {src} is gone; pass --checkpoint PATH or --no-torch")
        checkpoint = src
    return Path(checkpoint)


def _to_u8(y: np.ndarray, crop) -> np.ndarray:
    h, w = crop
    return np.clip(np.rint(y[0, :, :h, :w].transpose(1, 2, 0)), 0, 255).astype(np.uint8)


def _runner_contender(bundle, backend: str, threads, checkpoint) -> Contender:
    from ...runtime.bundle import read_manifest
    from .torch_runner import TorchRunner

    m = read_manifest(bundle)
    interface = m.model.interface
    c = Contender(bundle=str(bundle), precision="fp32", backend=backend, interface=interface)
    device = "cuda" if backend == "torch-cuda" else "cpu"
    spec = interface_spec(interface)
    role = spec.main_role if spec.eager_bench == "runner" else None
    if role is None:
        c.error = f"no PyTorch row for interface {interface}"
        return c
    try:
        runner = TorchRunner(checkpoint or bundle, device=device, threads=threads, role=role)
    except StyleForgeError as e:
        c.error = str(e)
        return c
    if device == "cuda":
        from ...runtime.doctor import gpu

        c.gpu = gpu().get("name")
    c.backend = runner.name
    multiple = max(1, int(m.size_constraints.multiple_of))
    if m.lineage is not None and m.lineage.io == "uint8-nhwc":
        multiple = max(multiple, int(m.size_constraints.min_side))

    def make(inputs):
        if spec.main_input == "latent":
            nz = int(m.model.config.nz)
            z = np.random.default_rng(inputs["seed"]).standard_normal((1, nz)).astype(np.float32)
            feeds = {"z": z}
            if "label" in runner.input_names:
                feeds["label"] = np.zeros(1, np.int64)
            return lambda: _to_u8(runner.run(feeds)["image"], (10 ** 6, 10 ** 6))
        batch, crop = pad_batch(inputs["image"][None], multiple, multiple)
        feeds = {"image": np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)}
        if "style_index" in runner.input_names:
            feeds["style_index"] = np.zeros(1, np.int64)
        out = runner.output_names[0]
        return lambda: _to_u8(runner.run(feeds)[out], crop)

    c.make = make
    return c


def _wct_exact_contender(bundle, threads, checkpoint) -> Contender:
    import torch

    from ...runtime.bundle import read_manifest
    from ...train.wct.pipeline import load_pipeline

    m = read_manifest(bundle)
    c = Contender(bundle=str(bundle), precision="fp32", backend="torch-exact", interface="wct")
    if threads:
        torch.set_num_threads(int(threads))
    try:
        pipe, _ = load_pipeline(str(eager_checkpoint(bundle, checkpoint)), mode="exact")
    except (StyleForgeError, OSError, KeyError) as e:
        c.error = f"cannot rebuild the PyTorch WCT pipeline: {e}"
        return c
    mult = pipe.size_multiple
    as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0)  # noqa: E731

    def make(inputs):
        style, _ = pad_batch(inputs["style"][None], mult, mult)
        with torch.inference_mode():
            stats = pipe.encode_style(as_t(style))
        batch, crop = pad_batch(inputs["image"][None], mult, mult)
        x = as_t(batch)

        def run():
            with torch.inference_mode():
                return _to_u8(pipe.stylize(x, stats, 1.0).numpy() * 255.0, crop)

        return run

    c.make = make
    c.extra = {"note": "PytorchWCT-style: one encoder pass per level, eigh in float64, style statistics cached"}
    del m
    return c


def torch_contenders(bundle, backends, *, threads=None, checkpoint=None) -> list[Contender]:
    """The PyTorch rows for `bundle` (the first bundle of a bench): one per torch backend (``torch-eager``,
    ``torch-cuda``); WCT bundles get ``torch-exact`` instead of ``torch-eager``."""
    from ...runtime.bundle import read_manifest

    interface = read_manifest(bundle).model.interface
    out = []
    for b in backends:
        if interface_spec(interface).eager_bench == "exact" and b == "torch-eager":
            out.append(_wct_exact_contender(bundle, threads, checkpoint))
        else:
            out.append(_runner_contender(bundle, b, threads, checkpoint))
    return out
