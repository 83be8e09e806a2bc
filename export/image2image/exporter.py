"""Image-to-image checkpoints (pix2pix, cyclegan) → ``translator`` bundles.

Graphs (float32, N, H and W dynamic)::

    role translate:          image [N, 3, H, W] in [0, 255], RGB  →  translated [N, 3, H, W] in [0, 255]
    role translate_reverse:  (cyclegan only) the B → A generator, same I/O

The [-1, 1] scaling the networks were trained in happens inside the graph, so bundles follow
the toolkit's [0, 255] image convention. Size rule (``size_constraints.multiple_of``): H and W
multiples of 2**depth for the U-Net (64 for a 64-px pix2pix), of 4 for the ResNet generator;
``styleforge translate`` reflect-pads to the multiple and crops back.

Inference mode: dropout is off and every norm runs in eval mode. pix2pix's paper keeps dropout
on at test time as its only source of noise; these bundles are deterministic (eval mode), which
the manifest records under ``model.config.dropout_at_inference``. The U-Net uses instance norm
by default (per-image statistics, identical in train and eval mode); a ``norm="batch"``
checkpoint is exported with its running statistics.

Golden cases: per graph, batch 1 at the first size and batch 2 at the second (default: the
training resolution square, and a non-square size one multiple larger), on bundled images of
the graph's input domain.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...runtime.errors import StyleForgeError
from ...runtime.families.translator import TranslatorConfig
from ...runtime.manifest import Tolerance
from ..core.bundle_writer import BundleWriter
from ..core.graph_wrappers import signed_image_graph
from ..core.onnx_export import export_onnx

#: cpu-fp32 profile (ORT CPU vs PyTorch eager fp32, images on [0, 255]), measured across training stages (issue 14,
#: docs/image2image.md "Tolerances"): pix2pix U-Net and CycleGAN ResNet at width 0.25, 32 px, after 2 / 50 / 200-300
#: steps, every golden case: max_abs <= 2.8e-4, mean_abs <= 5.5e-5, p99_abs <= 1.8e-4, PSNR >= 131.3 dB. The limits
#: sit 4-5x above (so an error grown 10x fails every one), PSNR 11 dB below.
TRANSLATOR_TOLERANCE = Tolerance(max_abs=1.5e-3, mean_abs=2.5e-4, p99_abs=8e-4, min_cosine=0.9999999, min_psnr=120.0)
TOLERANCE_BASIS = ("measured on [0,255], ORT CPU vs PyTorch fp32, pix2pix and CycleGAN w0.25 32px after 2/50/200-300 "
                   "steps: max_abs<=2.8e-4 mean_abs<=5.5e-5 p99<=1.8e-4 PSNR>=131.3 dB; limits 4-5x above")
DROPOUT_NOTE = ("off: exported in eval mode, so a bundle is deterministic. The pix2pix paper keeps dropout on at "
                "test time as noise; that variation is not reproduced.")


def _roles(ckpt, method: str) -> list[tuple[str, str, str]]:
    """(graph role, generator attribute, direction) per graph of a pix2pix or CycleGAN checkpoint."""
    if method == "pix2pix":
        return [("translate", "netG", "A->B")]
    if method == "cyclegan":
        return [("translate", "netG_A", "A->B"), ("translate_reverse", "netG_B", "B->A")]
    raise StyleForgeError(f"{ckpt}: method {method!r} is not an image-to-image method (pix2pix, cyclegan)")


def torch_graphs(ckpt) -> dict:
    """The PyTorch modules behind ``translate`` (and ``translate_reverse``) (ExportFamily.torch_graphs)."""
    from ...train.core.checkpoint import load_modules, resolve_checkpoint
    from ..core.family import TorchGraph

    ckpt = resolve_checkpoint(ckpt)
    modules, config = load_modules(ckpt)
    return {role: TorchGraph(signed_image_graph(modules[attr]), ["image"], ["translated"])
            for role, attr, _ in _roles(ckpt, config["method"])}


def _domain_images(method: str, train_cfg: dict, reverse: bool) -> list[np.ndarray]:
    """Images from the graph's input domain for golden cases (bundled images; edge maps for default pix2pix)."""
    from ...train.core.samples import PHOTOS, sample_image

    if not train_cfg.get("data"):
        if method == "pix2pix":
            from ...train.image2image.data import edge_map, _resize_short

            return [edge_map(_resize_short(sample_image(n), 256)) for n in PHOTOS[:2]]
        if method == "cyclegan":
            from ...train.image2image.data import DEFAULT_DOMAINS

            return [sample_image(DEFAULT_DOMAINS[1 if reverse else 0])]
    return [sample_image(n) for n in PHOTOS[:2]]


def _golden_input(images: list[np.ndarray], n: int, h: int, w: int, seed: int) -> np.ndarray:
    from ...train.image2image.data import _resize_short

    rng = np.random.default_rng(seed)
    out = np.empty((n, 3, h, w), np.float32)
    for i in range(n):
        img = _resize_short(images[i % len(images)], max(h, w) + 8)
        y, x = rng.integers(0, img.shape[0] - h + 1), rng.integers(0, img.shape[1] - w + 1)
        out[i] = img[y:y + h, x:x + w].transpose(2, 0, 1)
    return out


def default_golden_sizes(resolution: int, multiple: int) -> list[tuple[int, int]]:
    r = max(multiple, -(-resolution // multiple) * multiple)
    return [(r, r), (r + multiple, r + 2 * multiple) if multiple <= 16 else (r, r + multiple)]


def export_translator(ckpt, out, *, opset: int = 17, batch_dynamic: bool = True, golden_sizes=None, tiling: bool = True,
                      **_) -> Path:
    import torch

    from ...train.core.checkpoint import load_modules, resolve_checkpoint

    ckpt = resolve_checkpoint(ckpt)
    modules, config = load_modules(ckpt)
    method = config["method"]
    train_cfg = config.get("train", {})
    roles = _roles(ckpt, method)
    g0 = modules[roles[0][1]]
    multiple = int(getattr(g0, "size_multiple", config.get("size_multiple", 4)))
    res = int(train_cfg.get("resolution") or multiple)
    sizes = list(golden_sizes or default_golden_sizes(res, multiple))
    bad = [f"{h}x{w}" for h, w in sizes if h % multiple or w % multiple]
    if bad:
        raise StyleForgeError(f"--golden-sizes {', '.join(bad)}: H and W must be multiples of {multiple} for this {method} model")
    if len(sizes) == 1:
        sizes = sizes * 2
    spec = config["models"][roles[0][1]]
    model_cfg = TranslatorConfig(
        generator=spec["name"],
        generator_config=spec.get("config", {}),
        directions={role: d for role, _, d in roles},
        resolution=res,
        data=config.get("data") or train_cfg.get("data"),
        value_range="graph I/O in [0, 255]; the [-1, 1] scaling of training is inside the graph",
        dropout_at_inference=DROPOUT_NOTE if method == "pix2pix" else "none in this architecture",
        norm=(f"{spec.get('config', {}).get('norm', 'instance')} norm in eval mode"
              + (" (running statistics)" if spec.get("config", {}).get("norm") == "batch" else " (per-image statistics)")),
    )
    w = BundleWriter(name=Path(out).stem, method=method, family="image2image", interface="translator", config=model_cfg,
                     opset=opset, step=config.get("step"))
    ann = {"image": {"layout": "NCHW", "range": [0, 255], "color_order": "RGB"},
           "translated": {"layout": "NCHW", "range": [0, 255], "color_order": "RGB"}}
    dyn = {n: {**({0: "batch"} if batch_dynamic else {}), 2: "height", 3: "width"} for n in ("image", "translated")}
    for k, (role, attr, direction) in enumerate(roles):
        net = signed_image_graph(modules[attr])
        h, wd = sizes[0]
        example = torch.from_numpy(_golden_input(_domain_images(method, train_cfg, k == 1), 1, h, wd, 0))
        onnx_bytes = export_onnx(net, (example,), input_names=["image"], output_names=["translated"],
                                 dynamic_axes=dyn, opset=opset)
        w.add_graph(role, onnx_bytes, annotations=ann, file=f"{role}.onnx")
        images = _domain_images(method, train_cfg, k == 1)
        for j, ((h, wd), n) in enumerate(zip(sizes[:2], (1, 2 if batch_dynamic else 1))):
            x = _golden_input(images, n, h, wd, 10 + j)
            with torch.no_grad():
                y = net(torch.from_numpy(x)).numpy()
            w.add_golden(f"{role}-b{n}-{h}x{wd}", role, {"image": x}, {"translated": y},
                         description=f"{direction}, batch {n}, {h}x{wd}")
    w.set_size_constraints(multiple_of=multiple, min_side=multiple, padding="reflect",
                           note=f"H and W multiples of {multiple}; the runtime reflect-pads and crops back")
    w.set_tolerances(TRANSLATOR_TOLERANCE, basis=TOLERANCE_BASIS)
    w.set(source_checkpoint=str(Path(ckpt).resolve()), training=dict(train_cfg))
    if tiling:  # instance-norm generators with a bounded receptive field: tiling graphs (runtime/tiling.py)
        from ..tiling.graphs import add_tiling

        for role, _, _ in roles:
            add_tiling(w, role)
    return w.write(out)
