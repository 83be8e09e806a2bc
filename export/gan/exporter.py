"""Latent-space generator checkpoint (dcgan, wgan, wgan-gp, cgan, pgan) → bundle.

Graphs (float32 unless said; N is dynamic):

    role generate:                z float32 [N, nz]  (+ label int64 [N] for cgan)  →  image float32 [N, 3, R, R] in [0, 255]
    role generate_dissect.blockK: z (+ label) + unit_scale float32 [C_K]  →  image, activation float32 [N, C_K, S_K, S_K]

``unit_scale`` multiplies every channel of layer ``blockK`` (the output of generator block K, at
side S_K = 4·2^K) before the rest of the network runs; all ones reproduces ``generate``. The
``activation`` output is that layer after scaling. The manifest's ``model.config`` lists the
dissectable layers (``dissect_layers``: name, channels, side). The EMA generator (``g_ema``) is
exported; batch norm runs with its running statistics (eval mode); grayscale models repeat their
channel to RGB inside the graph. Golden cases: batch 1 and batch 3 for ``generate``, batch 2 for
each dissect graph; without a dynamic batch (``--no-batch-dynamic``) every graph is traced at batch 1 and
every golden case uses batch 1 (the runtime feeds such a graph one latent at a time).

Progressive GAN checkpoints taken before the last growth phase (``pgan_output``): ``final`` (default)
upsamples the side trained so far to the final resolution (nearest) inside the graph; ``native`` exports
that side as it is. ``model.config.growth`` records the level, α and which output the graph gives, and
the export logs it in one line. Only the blocks grown so far are dissectable.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...runtime.errors import StyleForgeError
from ...runtime.families.generator import DissectLayer, GeneratorConfig, Growth
from ...runtime.manifest import Tolerance
from ..core.bundle_writer import BundleWriter, gpu_tf32_profile
from ..core.onnx_export import export_onnx

GOLDEN_BATCHES = (1, 3)
#: cpu-fp32 profile (ORT CPU vs PyTorch eager fp32), measured across training stages (issue 14, docs/gan.md
#: "Tolerances"): DCGAN and Progressive GAN (final and native outputs) at width 0.25, 32 px, after 2 / 50 / 300
#: steps, every golden case. Images on [0, 255]: max_abs <= 1.3e-3 (pgan, 300 steps), mean_abs <= 9.4e-5,
#: p99_abs <= 5.9e-4, PSNR >= 123.8 dB. Dissection activations (unbounded; PSNR on a range of 1): max_abs <= 1.1e-5,
#: mean_abs <= 2.6e-7, p99_abs <= 2.3e-6, PSNR >= 125 dB. The limits sit 4-5x above (so an error grown 10x fails
#: every one), PSNR 11-13 dB below.
IMAGE_TOLERANCE = Tolerance(max_abs=6e-3, mean_abs=4e-4, p99_abs=2.5e-3, min_cosine=0.9999999, min_psnr=112.0)
ACTIVATION_TOLERANCE = Tolerance(max_abs=5e-5, mean_abs=1.2e-6, p99_abs=1e-5, min_cosine=0.9999999, min_psnr=112.0)
TOLERANCE_BASIS = ("measured, ORT CPU vs PyTorch fp32, dcgan and pgan w0.25 32px after 2/50/300 steps: images on "
                   "[0,255] max_abs<=1.3e-3 mean_abs<=9.4e-5 p99<=5.9e-4 PSNR>=123.8 dB; activations max_abs<=1.1e-5 "
                   "mean_abs<=2.6e-7 p99<=2.3e-6; limits 4-5x above (docs/gan.md)")


PGAN_OUTPUTS = ("final", "native")


def _wrap(g, conditional: bool, layer: str | None = None, full: bool = True):
    import torch

    # progressive generators: the growth state as Python values (reading the buffers inside the graph is a
    # data-dependent .item() that torch.export refuses; TorchScript tracing made it a constant anyway)
    grown = {"full": full, "level": int(g.level), "alpha": float(g.alpha)} if hasattr(g, "trained_side") else {}

    class GenerateGraph(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.g = g

        def _img(self, x):
            x = (x.clamp(-1, 1) + 1) * 127.5
            return x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x

        def forward(self, *args):
            z = args[0]
            label = args[1] if conditional else None
            scale = args[-1] if layer else None
            img, act = self.g.synthesize(z, label, layer=layer, unit_scale=scale, **grown)
            return (self._img(img), act) if layer else self._img(img)

    return GenerateGraph().eval()


def _load_generator(ckpt):
    """(generator in eval mode, its attribute: g_ema when present, checkpoint config)."""
    from ...train.core.checkpoint import load_modules

    modules, config = load_modules(ckpt, attrs=["g_ema", "g"])
    attr = "g_ema" if "g_ema" in modules else "g"
    return modules[attr].eval(), attr, config


def _input_names(conditional: bool) -> list[str]:
    return ["z"] + (["label"] if conditional else [])


def torch_graphs(ckpt) -> dict:
    """The PyTorch modules behind ``generate`` and every ``generate_dissect.<layer>`` graph (ExportFamily.torch_graphs)."""
    from ...train.core.checkpoint import resolve_checkpoint
    from ..core.family import TorchGraph

    g, _, _ = _load_generator(resolve_checkpoint(ckpt))
    conditional = int(getattr(g, "n_classes", 0) or 0) > 0
    names = _input_names(conditional)
    out = {"generate": TorchGraph(_wrap(g, conditional), names, ["image"])}
    for layer, _, _ in g.blocks_and_sizes():
        out[f"generate_dissect.{layer}"] = TorchGraph(_wrap(g, conditional, layer), names + ["unit_scale"],
                                                      ["image", "activation"])
    return out


def growth_of(g, pgan_output: str = "final") -> Growth | None:
    """A progressive generator's growth state and the output `pgan_output` gives it (None for other generators)."""
    if not hasattr(g, "trained_side"):
        return None
    if pgan_output not in PGAN_OUTPUTS:
        raise StyleForgeError(f"--pgan-output {pgan_output!r}: choose {' or '.join(PGAN_OUTPUTS)}")
    return Growth(level=int(g.level), alpha=float(g.alpha), trained_side=int(g.trained_side()),
                  final_side=int(g.resolution), output=pgan_output)


def export_generator(ckpt, out, *, opset: int = 17, batch_dynamic: bool = True, dissect: bool = True,
                     pgan_output: str = "final", **_) -> Path:
    import logging

    import torch

    from ...train.core.checkpoint import resolve_checkpoint

    ckpt = resolve_checkpoint(ckpt)
    g, attr, config = _load_generator(ckpt)
    nz, n_classes = int(g.nz), int(getattr(g, "n_classes", 0) or 0)
    conditional = n_classes > 0
    growth = growth_of(g, pgan_output)
    full = growth is None or growth.output == "final"
    res = int(g.resolution) if full else growth.trained_side
    if growth is not None and not growth.complete:
        logging.getLogger("styleforge").warning(f"{Path(ckpt).name}: a progressive GAN checkpoint {growth.describe()}"
                                                + (" (--pgan-output native: the side trained so far)" if full else ""))
    layers = [DissectLayer(name=n, channels=int(c), side=int(s)) for n, c, s in g.blocks_and_sizes()]
    data = config.get("data", {})
    model_cfg = GeneratorConfig(nz=nz, n_classes=n_classes, classes=data.get("classes") if conditional else None,
                                resolution=res, channels=int(g.channels), data=data.get("source"), generator=attr,
                                dissect_layers=layers if dissect else [], growth=growth)
    w = BundleWriter(name=Path(out).stem, method=config["method"], family="gan",
                     interface="generator", config=model_cfg, opset=opset, step=config.get("step"))
    names_in = _input_names(conditional)
    dyn = {"z": {0: "batch"}, "image": {0: "batch"}, **({"label": {0: "batch"}} if conditional else {})} if batch_dynamic else {}
    img_ann = {"image": {"layout": "NCHW", "range": [0, 255], "color_order": "RGB"},
               "z": {"description": "latent, standard normal"},
               **({"label": {"description": f"class index in [0, {n_classes})"}} if conditional else {})}

    def feeds(n, k):
        rng = np.random.default_rng(1000 + k)
        f = {"z": rng.standard_normal((n, nz)).astype(np.float32)}
        if conditional:
            f["label"] = (np.arange(n) % n_classes).astype(np.int64)
        return f

    def torch_args(f, extra=()):
        return tuple(torch.from_numpy(f[k]) for k in names_in) + tuple(torch.from_numpy(e) for e in extra)

    net = _wrap(g, conditional, full=full)
    trace = 2 if batch_dynamic else 1  # a fixed batch is the batch of every golden case
    f = feeds(trace, 0)
    w.add_graph("generate", export_onnx(net, torch_args(f), input_names=names_in, output_names=["image"],
                                        dynamic_axes=dyn, opset=opset), annotations=img_ann)
    with torch.no_grad():
        for k, n in enumerate(GOLDEN_BATCHES if batch_dynamic else (1,)):
            f = feeds(n, k)
            w.add_golden(f"generate-batch{n}", "generate", f, {"image": net(*torch_args(f)).numpy()},
                         description=f"batch {n}, z from default_rng({1000 + k})")
    for layer in (layers if dissect else []):
        name, c = layer.name, layer.channels
        dnet = _wrap(g, conditional, name, full=full)
        scale = np.ones(c, np.float32)
        ddyn = {**dyn, "activation": {0: "batch"}} if batch_dynamic else {}
        role = f"generate_dissect.{name}"
        onnx_bytes = export_onnx(dnet, torch_args(feeds(trace, 0), (scale,)), input_names=names_in + ["unit_scale"],
                                 output_names=["image", "activation"], dynamic_axes=ddyn, opset=opset)
        w.add_graph(role, onnx_bytes, file=f"generate_dissect_{name}.onnx",
                    annotations={**img_ann, "unit_scale": {"description": f"per-channel scale of {name}"},
                                 "activation": {"layout": "NCHW", "description": f"{name} after unit_scale"}})
        scale = np.random.default_rng(7).uniform(0, 2, c).astype(np.float32)
        scale[: c // 4] = 0
        f = feeds(trace, 5)
        with torch.no_grad():
            img, act = dnet(*torch_args(f, (scale,)))
        w.add_golden(f"dissect-{name}", role, {**f, "unit_scale": scale}, {"image": img.numpy(), "activation": act.numpy()},
                     description=f"{name} with a quarter of the units zeroed and the rest scaled")
    w.set_size_constraints(fixed_size=[res, res], multiple_of=1, min_side=res)
    w.set_tolerances(IMAGE_TOLERANCE, per_output={"activation": ACTIVATION_TOLERANCE}, basis=TOLERANCE_BASIS,
                     # activations are unbounded and their TF32 error was never measured: on GPUs only their direction
                     # is checked (cosine), which still catches a wrong graph; images keep the derived TF32 limits
                     profiles={"gpu-tf32": gpu_tf32_profile({"activation": Tolerance(min_cosine=0.9999)})})
    w.set(source_checkpoint=str(Path(ckpt).resolve()), training=dict(config.get("train", {})))
    return w.write(out)
