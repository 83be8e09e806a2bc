"""Feature-space optimisation: one loop that optimises an image against a fixed VGG, and the methods on it.

Methods (Python API; the ``styleforge optimize`` commands are thin wrappers):

- :func:`invert` — feature inversion (Mahendran & Vedaldi 2015): reconstruct an image from one
  layer's features, from white noise, by minimising feature distance + total variation.
- :func:`texture` — texture synthesis (Gatys et al. 2015): match the Gram matrices of several
  layers, from noise.
- :func:`stylize` — neural style transfer (Gatys et al. 2016): content loss at one layer + style
  (Gram) loss over several, several styles blended, optional colour preservation.
- :func:`sweep` — :func:`stylize` over a list of style weights, as a contact sheet.
- :func:`dfi` — deep feature interpolation (Upchurch et al. 2017): k nearest neighbours of the
  image with and without an attribute in feature space, attribute vector = difference of their
  mean features, shift the image's features by ``strength ×`` that vector, reconstruct.

The loop (:func:`optimize_image`): the image is a 1×3×H×W tensor in [0, 1] (clamped after
every Adam step; L-BFGS runs unconstrained — clamping between iterations corrupts its curvature
pairs and stalls it on images with saturated pixels — and the result is clamped), initialised from uniform white noise (``init="noise"``) or from an image
(``init="content"``), optimised by L-BFGS (strong-Wolfe line search, one iteration per step) or
Adam; an optional coarse-to-fine pyramid (``scales``: long sides, ``steps`` steps at each, the
result upsampled bilinearly to the next); a total-variation term; a progress bar showing every
loss term; snapshots every N steps; and a JSON-lines log (``log_json``): one object per step
with ``step`` (1-based, counted across scales), ``scale`` (long side), each *weighted* loss
term by name, and ``total`` (their sum). The losses logged for step k are those of the image
entering step k (i.e. after k−1 updates); :attr:`Result.final` holds the losses of the result.

Gram matrices come from :mod:`styleforge.train.core.gram` only (``gram_matrix``, ``style_loss``:
``G = F Fᵀ / (C·H·W)``, fp32). The loss network is :class:`styleforge.train.core.vgg.VGG` —
fixed-seed random weights unless ``vgg_weights`` names a torchvision/safetensors file; every
:class:`Result` says which (``loss_network``).
"""
from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ...runtime.errors import StyleForgeError
from ...runtime.images import make_grid, save_image
from ..core.gram import gram_matrix, style_loss
from ..core.vgg import VGG, content_loss, layer_names, total_variation

DEFAULT_ARCH = "vgg19"
#: Gatys et al.'s style layers (the first ReLU of each block) and content layer.
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"
#: Upchurch et al.'s DFI layers (conv3_1, conv4_1, conv5_1; here after their ReLU).
DFI_LAYERS = ("relu3_1", "relu4_1", "relu5_1")
OPTIMIZERS = ("lbfgs", "adam")
#: Default learning rates (pixel values in [0, 1]).
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}


# --------------------------------------------------------------------------------------------
# Options and results
# --------------------------------------------------------------------------------------------
@dataclass
class LoopOptions:
    """Options shared by every method (the CLI's common flags)."""

    steps: int = 200
    optimizer: str = "lbfgs"
    lr: float | None = None
    tv_weight: float | None = None  # None: the method's default
    scales: Sequence[int] | None = None
    seed: int = 0
    init: str | None = None  # "noise" | "content"; None: the method's default
    snapshot_every: int = 0
    snapshot_dir: str | Path | None = None
    log_json: str | Path | None = None
    progress: bool = True
    device: str = "cpu"
    arch: str = DEFAULT_ARCH
    vgg_weights: str | Path | None = None
    pool: str = "max"

    def validate(self) -> None:
        if self.steps <= 0:
            raise StyleForgeError(f"--steps must be positive, got {self.steps}")
        if self.optimizer not in OPTIMIZERS:
            raise StyleForgeError(f"--optimizer {self.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
        if self.lr is not None and not self.lr > 0:
            raise StyleForgeError(f"--lr must be positive, got {self.lr}")
        if self.tv_weight is not None and self.tv_weight < 0:
            raise StyleForgeError(f"--tv-weight must be >= 0, got {self.tv_weight}")
        if self.init not in (None, "noise", "content"):
            raise StyleForgeError(f"--init {self.init!r}: choose noise or content")
        if self.snapshot_every < 0:
            raise StyleForgeError(f"--snapshot-every must be >= 0, got {self.snapshot_every}")
        for s in self.scales or ():
            if s < 16:
                raise StyleForgeError(f"--scales: each scale must be at least 16 pixels, got {s}")


@dataclass
class Result:
    """One optimised image and how it got there."""

    image: np.ndarray  # H×W×3 uint8
    tensor: torch.Tensor  # 1×3×H×W float in [0, 1]
    history: list[dict] = field(default_factory=list)
    final: dict = field(default_factory=dict)  # weighted loss terms of the result, and "total"
    loss_network: str = ""
    seconds_per_step: float = 0.0  # wall-clock
    cpu_seconds_per_step: float = 0.0  # process CPU time (all threads), less sensitive to a busy machine


class Objective:
    """What a method minimises: VGG ``layers`` it reads, targets per scale, and named loss terms."""

    layers: list[str] = []

    def prepare(self, vgg: VGG, hw: tuple[int, int], device) -> None:
        """Compute the targets for an image of size ``hw`` (called once per pyramid scale)."""

    def terms(self, feats: dict[str, torch.Tensor], x: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError


# --------------------------------------------------------------------------------------------
# Image helpers
# --------------------------------------------------------------------------------------------
def to_tensor(img: np.ndarray, device="cpu") -> torch.Tensor:
    """H×W×3 uint8 → 1×3×H×W float32 in [0, 1]."""
    return torch.from_numpy(np.array(img, dtype=np.uint8, copy=True)).permute(2, 0, 1)[None].float().div(255.0).contiguous().to(device)


def to_image(x: torch.Tensor) -> np.ndarray:
    """1×3×H×W float in [0, 1] → H×W×3 uint8 (rounded, clipped)."""
    a = x.detach().clamp(0, 1).mul(255.0).round().to(torch.uint8)[0].permute(1, 2, 0).cpu().numpy()
    return np.ascontiguousarray(a)


def fit_size(hw: tuple[int, int], long_side: int) -> tuple[int, int]:
    """Scale (H, W) so the longer side is ``long_side``, keeping the aspect ratio."""
    h, w = hw
    s = long_side / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


def resize(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(hw):
        return x
    if hw[0] < x.shape[-2] or hw[1] < x.shape[-1]:
        return F.interpolate(x, size=hw, mode="bilinear", align_corners=False, antialias=True)
    return F.interpolate(x, size=hw, mode="bilinear", align_corners=False)


def resize_image(img: np.ndarray, long_side: int) -> np.ndarray:
    """Resize an H×W×3 uint8 image so its longer side is ``long_side`` (Lanczos)."""
    from PIL import Image

    h, w = fit_size(img.shape[:2], long_side)
    if (h, w) == img.shape[:2]:
        return img
    return np.asarray(Image.fromarray(img).resize((w, h), Image.Resampling.LANCZOS))


def check_min_size(hw: tuple[int, int], layers: Sequence[str], what: str = "--size") -> None:
    """Each max-pool halves the image; refuse sizes where a requested layer would see < 1 pixel."""
    pools = max(int(l[4]) if l.startswith("pool") else int(l[4]) - 1 for l in layers)
    need = 2 ** pools
    if min(hw) < need:
        raise StyleForgeError(f"{what}: image {hw[1]}x{hw[0]} is too small for layer {max(layers)}; "
                              f"each side must be at least {need} pixels")


def make_vgg(layers: Sequence[str], opts: LoopOptions) -> VGG:
    return VGG(opts.arch, list(dict.fromkeys(layers)), weights=opts.vgg_weights, pool=opts.pool).to(opts.device)


def label_tile(img: np.ndarray, text: str) -> np.ndarray:
    """A tile with a caption strip under it (Pillow's built-in bitmap font; nothing downloaded)."""
    from PIL import Image, ImageDraw

    h, w = img.shape[:2]
    tile = Image.new("RGB", (w, h + 14), (255, 255, 255))
    tile.paste(Image.fromarray(img), (0, 0))
    ImageDraw.Draw(tile).text((2, h + 1), text, fill=(0, 0, 0))
    return np.asarray(tile)


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------
def _pyramid(final_hw: tuple[int, int], scales: Sequence[int] | None) -> list[tuple[int, int]]:
    final_long = max(final_hw)
    sizes = []
    for s in sorted(set(scales or ())):
        if s > final_long:
            raise StyleForgeError(f"--scales: scale {s} is larger than the output's long side {final_long} (--size)")
        if s < final_long:
            sizes.append(fit_size(final_hw, s))
    return sizes + [tuple(final_hw)]


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def optimize_image(objective: Objective, vgg: VGG, size_hw: tuple[int, int], opts: LoopOptions,
                   init_image: torch.Tensor | None = None, tv_weight: float = 0.0,
                   desc: str = "optimize") -> Result:
    """Run the shared loop: returns the optimised image (see the module notes for every option)."""
    sizes, lr, snap_dir = _check_loop(objective, size_hw, opts, init_image, desc)
    device = torch.device(opts.device)
    gen = torch.Generator().manual_seed(int(opts.seed))
    log = None
    if opts.log_json:
        Path(opts.log_json).parent.mkdir(parents=True, exist_ok=True)
        log = open(opts.log_json, "w", encoding="utf-8")
    history: list[dict] = []
    step = 0
    x = None
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        from tqdm import tqdm

        bar = tqdm(total=opts.steps * len(sizes), desc=desc, disable=not opts.progress, file=sys.stderr,
                   dynamic_ncols=True)
        for hw in sizes:
            objective.prepare(vgg, hw, device)
            x = _start_image(x, opts.init or "noise", init_image, gen, hw, device)
            opt = _optimizer(x, opts.optimizer, lr)
            for _ in range(opts.steps):
                step += 1
                first = _loop_step(opt, objective, vgg, x, tv_weight, clamp=opts.optimizer == "adam")
                if not all(math.isfinite(v) for v in first.values()):
                    raise StyleForgeError(f"{desc}: the loss became {first['total']} at step {step}; "
                                          f"lower --lr or the loss weights")
                rec = {"step": step, "scale": max(hw), **first}
                history.append(rec)
                if log:
                    log.write(json.dumps(rec) + "\n")
                    log.flush()
                bar.set_postfix_str(" ".join(f"{k}={_fmt(v)}" for k, v in first.items()), refresh=False)
                bar.update(1)
                if opts.snapshot_every and step % opts.snapshot_every == 0:
                    save_image(snap_dir / f"step-{step:06d}.png", to_image(x))
        bar.close()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        final = _final_terms(objective, vgg, x, tv_weight)
    finally:
        if log:
            log.close()
    x = x.detach()
    return Result(image=to_image(x), tensor=x, history=history, final=final,
                  loss_network=f"{vgg.arch} {vgg.description}", seconds_per_step=elapsed / max(1, step),
                  cpu_seconds_per_step=cpu / max(1, step))


def _check_loop(objective: Objective, size_hw, opts: LoopOptions, init_image, desc: str):
    """Refuse a loop that cannot run (sizes below the objective's layers, --init content without an image,
    snapshots without a folder) before any work. Returns (pyramid sizes, learning rate, snapshot folder)."""
    opts.validate()
    sizes = _pyramid(size_hw, opts.scales)
    for hw in sizes:
        check_min_size(hw, objective.layers, "--scales" if hw != tuple(size_hw) else "--size")
    if (opts.init or "noise") == "content" and init_image is None:
        raise StyleForgeError(f"{desc}: --init content needs a content image")
    lr = opts.lr if opts.lr is not None else DEFAULT_LR[opts.optimizer]
    snap_dir = Path(opts.snapshot_dir) if opts.snapshot_dir else None
    if opts.snapshot_every and snap_dir is None:
        raise StyleForgeError("--snapshot-every needs a snapshot folder (--snapshot-dir)")
    return sizes, lr, snap_dir


def _start_image(x, init: str, init_image, gen: torch.Generator, hw, device) -> torch.Tensor:
    """The image a pyramid level starts from, as a leaf that needs gradients: noise or the content image at the
    first level, the previous level's result resized after that; clamped to [0, 1]."""
    if x is None:
        x = torch.rand((1, 3, *hw), generator=gen).to(device) if init == "noise" else resize(init_image.to(device), hw)
    else:
        x = resize(x.detach(), hw)
    return x.detach().clone(memory_format=torch.contiguous_format).clamp_(0, 1).requires_grad_(True)


def _optimizer(x: torch.Tensor, kind: str, lr: float):
    """L-BFGS (one iteration per step, strong Wolfe line search) or Adam over the image pixels."""
    if kind == "lbfgs":
        return torch.optim.LBFGS([x], lr=lr, max_iter=1, max_eval=25, history_size=50, line_search_fn="strong_wolfe")
    return torch.optim.Adam([x], lr=lr)


def _loss_terms(objective: Objective, vgg: VGG, x: torch.Tensor, tv_weight: float) -> dict:
    """The objective's loss terms at `x`, plus the weighted total variation when asked."""
    terms = objective.terms(vgg(x, objective.layers), x)
    if tv_weight:
        terms["tv"] = tv_weight * total_variation(x)
    return terms


def _loop_step(opt, objective: Objective, vgg: VGG, x: torch.Tensor, tv_weight: float, *, clamp: bool) -> dict:
    """One optimiser step; returns the loss terms (and ``total``) at its first evaluation. `clamp` keeps the pixels
    in [0, 1] after the step (Adam; L-BFGS is left unconstrained: clamping breaks its curvature pairs)."""
    first: dict = {}

    def closure():
        opt.zero_grad(set_to_none=True)
        terms = _loss_terms(objective, vgg, x, tv_weight)
        total = sum(terms.values())
        total.backward()
        if not first:
            first.update({k: float(v.detach()) for k, v in terms.items()}, total=float(total.detach()))
        return total

    opt.step(closure)
    if clamp:
        with torch.no_grad():
            x.clamp_(0, 1)
    return first


@torch.no_grad()
def _final_terms(objective: Objective, vgg: VGG, x: torch.Tensor, tv_weight: float) -> dict:
    """The loss terms and total of the final image (clamped to [0, 1] in place first)."""
    x.clamp_(0, 1)
    final = {k: float(v) for k, v in _loss_terms(objective, vgg, x, tv_weight).items()}
    final["total"] = float(sum(final.values()))
    return final


# --------------------------------------------------------------------------------------------
# Objectives
# --------------------------------------------------------------------------------------------
class FeatureObjective(Objective):
    """Σ_l w · mse(φ_l(x), target_l): feature inversion and DFI reconstruction.

    ``targets(hw)`` gives the target features for an image of size ``hw``.
    """

    def __init__(self, layers: Sequence[str], targets: Callable[[VGG, tuple[int, int]], dict], weight: float = 1.0,
                 name: str = "content"):
        self.layers, self._targets, self.weight, self.name = list(layers), targets, weight, name
        self.target: dict = {}

    def prepare(self, vgg, hw, device):
        self.target = {k: v.to(device) for k, v in self._targets(vgg, hw).items()}

    def terms(self, feats, x):
        loss = sum(content_loss(feats[l], self.target[l]) for l in self.layers)
        return {self.name: self.weight * loss}


class GramObjective(Objective):
    """Style (Gram) loss against blended style images, plus an optional content loss (Gatys 2016)."""

    def __init__(self, style_layers: Sequence[str], styles: Sequence[np.ndarray], blend: Sequence[float],
                 style_weight: float, content: np.ndarray | None = None, content_layer: str | None = None,
                 content_weight: float = 0.0, style_scale: float = 1.0):
        self.style_layers = list(style_layers)
        self.content_layer = content_layer if content is not None and content_weight > 0 else None
        self.layers = list(dict.fromkeys(self.style_layers + ([self.content_layer] if self.content_layer else [])))
        self.styles, self.blend = list(styles), [float(b) for b in blend]
        self.style_weight, self.content_weight = style_weight, content_weight
        self.content, self.style_scale = content, style_scale
        self.gram_targets: dict = {}
        self.content_target = None

    def prepare(self, vgg, hw, device):
        long_side = max(16, round(max(hw) * self.style_scale))
        grams: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            for img, b in zip(self.styles, self.blend):
                f = vgg(to_tensor(resize_image(img, long_side), device), self.style_layers)
                for l in self.style_layers:
                    g = gram_matrix(f[l]) * b
                    grams[l] = grams[l] + g if l in grams else g
            self.gram_targets = grams
            if self.content_layer:
                c = resize(to_tensor(self.content, device), hw)
                self.content_target = vgg(c, [self.content_layer])[self.content_layer]

    def terms(self, feats, x):
        out = {}
        if self.content_layer:
            out["content"] = self.content_weight * content_loss(feats[self.content_layer], self.content_target)
        out["style"] = self.style_weight * style_loss({l: feats[l] for l in self.style_layers}, self.gram_targets)
        return out


def _check_layers(layers: Sequence[str], arch: str, flag: str) -> list[str]:
    layers = list(layers)
    if not layers:
        raise StyleForgeError(f"{flag}: give at least one layer")
    valid = [n for n in layer_names(arch) if n.startswith(("relu", "conv", "pool"))]
    bad = [l for l in layers if l not in valid]
    if bad:
        raise StyleForgeError(f"{flag}: {arch} has no layer(s) {', '.join(bad)}; "
                              f"valid: {', '.join(n for n in valid if n.startswith('relu'))}")
    return layers


# --------------------------------------------------------------------------------------------
# Methods
# --------------------------------------------------------------------------------------------
def invert(image: np.ndarray, layer: str = "relu3_1", *, size: int | None = 256, opts: LoopOptions | None = None,
           tv_weight: float | None = None) -> Result:
    """Feature inversion: an image whose ``layer`` features match ``image``'s, from white noise (default).

    Loss: ``mse(φ(x), φ(image)) + tv_weight · TV(x)``. ``size``: long side (None keeps the image's).
    """
    opts = opts or LoopOptions()
    layers = _check_layers([layer], opts.arch, "--layer")
    img = resize_image(image, size) if size else image
    vgg = make_vgg(layers, opts)
    src = to_tensor(img, opts.device)

    def targets(v, hw):
        with torch.no_grad():
            return v(resize(src, hw), layers)

    obj = FeatureObjective(layers, targets)
    tv = _pick(tv_weight, opts.tv_weight, 1e-2)
    return optimize_image(obj, vgg, img.shape[:2], opts, init_image=src, tv_weight=tv, desc=f"invert {layer}")


def texture(style: np.ndarray, *, size: int = 256, layers: Sequence[str] = STYLE_LAYERS,
            opts: LoopOptions | None = None, style_scale: float = 1.0, tv_weight: float | None = None,
            height: int | None = None, style_weight: float = 1e5) -> Result:
    """Gram-matrix texture synthesis from noise: a ``height``×``size`` (square by default) image.

    The style image is resized so its long side is ``style_scale ×`` the output's long side.
    """
    opts = opts or LoopOptions()
    if opts.init == "content":
        raise StyleForgeError("texture: --init content has no content image; texture synthesis starts from noise")
    layers = _check_layers(layers, opts.arch, "--layers")
    vgg = make_vgg(layers, opts)
    obj = GramObjective(layers, [style], [1.0], style_weight=style_weight, style_scale=style_scale)
    tv = _pick(tv_weight, opts.tv_weight, 0.0)
    return optimize_image(obj, vgg, (height or size, size), opts, tv_weight=tv, desc="texture")


def _pick(explicit, from_opts, default):
    if explicit is not None:
        return explicit
    return default if from_opts is None else from_opts


def _blend(n: int, blend: Sequence[float] | None) -> list[float]:
    if blend is None:
        return [1.0 / n] * n
    blend = [float(b) for b in blend]
    if len(blend) != n:
        raise StyleForgeError(f"--style-blend has {len(blend)} weights for {n} style image(s)")
    if any(b < 0 for b in blend) or sum(blend) <= 0:
        raise StyleForgeError(f"--style-blend weights must be >= 0 with a positive sum, got {blend}")
    s = sum(blend)
    return [b / s for b in blend]


PRESERVE_COLOR = ("luminance", "histogram")


def stylize(content: np.ndarray, styles: np.ndarray | Sequence[np.ndarray], *, size: int | None = 256,
            style_weight: float = 1e5, content_weight: float = 1.0, style_blend: Sequence[float] | None = None,
            style_layers: Sequence[str] = STYLE_LAYERS, content_layer: str = CONTENT_LAYER,
            preserve_color: str | None = None, style_scale: float = 1.0, opts: LoopOptions | None = None,
            tv_weight: float | None = None) -> Result:
    """Gatys et al. 2016 style transfer, starting from the content image (default) or noise.

    Loss: ``content_weight · mse(φ_c(x), φ_c(content)) + style_weight · Σ_l mean((G_l(x) − Ĝ_l)²)
    + tv_weight · TV(x)`` with ``Ĝ_l = Σ_i b_i G_l(style_i)`` (``style_blend`` b, normalised to sum 1).
    ``preserve_color``: ``"histogram"`` recolours each style image to the content's Lab statistics
    first (Reinhard); ``"luminance"`` keeps the content's colours and takes the result's luminance
    (YIQ) afterwards — Gatys et al. 2017's two variants.
    """
    opts = opts or LoopOptions()
    styles = [styles] if isinstance(styles, np.ndarray) else list(styles)
    if not styles:
        raise StyleForgeError("stylize: give at least one --style image")
    blend = _blend(len(styles), style_blend)
    if preserve_color not in (None, *PRESERVE_COLOR):
        raise StyleForgeError(f"--preserve-color {preserve_color!r}: choose luminance or histogram")
    if style_weight < 0 or content_weight < 0:
        raise StyleForgeError("--style-weight and --content-weight must be >= 0")
    style_layers = _check_layers(style_layers, opts.arch, "--style-layers")
    _check_layers([content_layer], opts.arch, "--content-layer")
    from ...runtime.color_transfer import luminance_transfer, reinhard_transfer

    img = resize_image(content, size) if size else content
    if preserve_color == "histogram":
        styles = [reinhard_transfer(s, img) for s in styles]
    obj = GramObjective(style_layers, styles, blend, style_weight, content=img, content_layer=content_layer,
                        content_weight=content_weight, style_scale=style_scale)
    vgg = make_vgg(obj.layers, opts)
    if opts.init is None:
        opts = _replace(opts, init="content")
    tv = _pick(tv_weight, opts.tv_weight, 0.0)
    res = optimize_image(obj, vgg, img.shape[:2], opts, init_image=to_tensor(img, opts.device), tv_weight=tv,
                         desc="stylize")
    if preserve_color == "luminance":
        res.image = luminance_transfer(img, res.image)
        res.tensor = to_tensor(res.image, res.tensor.device)
    return res


def _replace(opts: LoopOptions, **kw) -> LoopOptions:
    from dataclasses import replace

    return replace(opts, **kw)


def _per_run(opts: LoopOptions, tag: str) -> LoopOptions:
    """Options for one run of several (a sweep weight, a DFI strength): its own JSON log ``LOG.<tag>.jsonl``
    and snapshot folder ``SNAPSHOTS/<tag>``."""
    o = opts
    if opts.log_json:
        p = Path(opts.log_json)
        o = _replace(o, log_json=p.with_name(f"{p.stem}.{tag}{p.suffix or '.jsonl'}"))
    if opts.snapshot_dir:
        o = _replace(o, snapshot_dir=Path(opts.snapshot_dir) / tag)
    return o


def sweep(content: np.ndarray, style: np.ndarray | Sequence[np.ndarray], style_weights: Sequence[float], *,
          size: int | None = 256, opts: LoopOptions | None = None, labels: bool = True,
          **stylize_kw) -> tuple[np.ndarray, list[Result]]:
    """:func:`stylize` once per style weight (same seed, same start); returns (contact sheet, results).

    The sheet's first row is the content and style images, the second the results in the order
    of ``style_weights`` (each captioned with its weight when ``labels``). The JSON log, if any,
    gets one file per weight: ``LOG.w<index>.jsonl`` beside the given name.
    """
    opts = opts or LoopOptions()
    if not style_weights:
        raise StyleForgeError("--style-weights: give at least one weight")
    results = []
    for i, w in enumerate(style_weights):
        o = _per_run(opts, f"w{i}")
        results.append(stylize(content, style, size=size, style_weight=float(w), opts=o, **stylize_kw))
    h, w_ = results[0].image.shape[:2]
    styles = [style] if isinstance(style, np.ndarray) else list(style)
    head = [resize_image(content, max(h, w_)) if size else content] + [resize_image(s, max(h, w_)) for s in styles]
    tiles = [r.image for r in results]
    if labels:
        head = [label_tile(t, name) for t, name in zip(head, ["content"] + [f"style {i + 1}" for i in range(len(styles))])]
        tiles = [label_tile(t, f"style w={wt:g}") for t, wt in zip(tiles, style_weights)]
    ncols = max(len(tiles), len(head))
    sheet = make_grid(head + [np.full_like(head[0], 255)] * (ncols - len(head)) + tiles, ncols=ncols)
    return sheet, results


# --------------------------------------------------------------------------------------------
# Deep feature interpolation
# --------------------------------------------------------------------------------------------
@dataclass
class DFIResult:
    row: np.ndarray  # the original followed by one reconstruction per strength
    results: list[Result]
    strengths: list[float]
    neighbours_with: list[int]  # dataset indices of the k nearest neighbours with the attribute
    neighbours_without: list[int]
    loss_network: str


def _flat_features(feats: dict[str, torch.Tensor], layers: Sequence[str]) -> torch.Tensor:
    """N×D: each layer flattened and scaled by 1/sqrt(its size), so each layer weighs the same in distances."""
    parts = [feats[l].flatten(1) / math.sqrt(feats[l][0].numel()) for l in layers]
    return torch.cat(parts, dim=1)


def _dfi_candidates(n: int, labels, strengths, k: int, exclude: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Check DFI's arguments; returns the dataset indices with and without the attribute (``exclude`` left out)."""
    labels = np.asarray(labels).astype(int)
    if n != len(labels):
        raise StyleForgeError(f"dfi: {n} images but {len(labels)} labels")
    if not strengths:
        raise StyleForgeError("--strength: give at least one strength")
    if k <= 0:
        raise StyleForgeError(f"--k must be positive, got {k}")
    keep = np.ones(len(labels), bool)
    if exclude is not None:
        keep[exclude] = False
    pos, neg = np.flatnonzero((labels == 1) & keep), np.flatnonzero((labels == 0) & keep)
    if len(pos) == 0 or len(neg) == 0:
        raise StyleForgeError(f"dfi: the dataset needs images with and without the attribute "
                              f"(found {len(pos)} with, {len(neg)} without)")
    return pos, neg


def _square(img: np.ndarray, *, size: int) -> np.ndarray:
    """`img` resized to size×size (Lanczos); unchanged when it is that size already."""
    from PIL import Image

    if img.shape[:2] == (size, size):
        return img
    return np.asarray(Image.fromarray(img).resize((size, size), Image.Resampling.LANCZOS))


def _dataset_features(vgg: VGG, images: list, layers, dev, batch: int = 16) -> tuple[torch.Tensor, dict]:
    """VGG features of every image, in batches of `batch`: (N×D flat features for distances, {layer: N×C×h×w})."""
    flat: list[torch.Tensor] = []
    per_layer: dict = {l: [] for l in layers}
    for i in range(0, len(images), batch):
        f = vgg(torch.cat([to_tensor(im, dev) for im in images[i:i + batch]]), layers)
        flat.append(_flat_features(f, layers).cpu())
        for l in layers:
            per_layer[l].append(f[l].cpu())
    return torch.cat(flat), {l: torch.cat(v) for l, v in per_layer.items()}


def dfi(image: np.ndarray, dataset: Sequence[np.ndarray], labels: Sequence[int] | np.ndarray, *,
        strengths: Sequence[float] = (0.5, 1.0, 2.0), k: int = 10, size: int = 128,
        layers: Sequence[str] = DFI_LAYERS, feature_weight: float = 1.0, opts: LoopOptions | None = None,
        tv_weight: float | None = None, exclude: int | None = None) -> DFIResult:
    """Deep feature interpolation (Upchurch et al. 2017).

    ``dataset``: aligned H×W×3 uint8 images; ``labels[i]`` 1 if image i has the attribute, else 0.
    All images are resized to ``size``×``size``. In feature space (``layers``, each flattened and
    scaled by 1/√size) take the ``k`` nearest neighbours of ``image`` with the attribute (T) and
    without it (S); ``w = mean φ(T) − mean φ(S)`` (per layer, unscaled); for each strength α,
    reconstruct an image whose features match ``φ(image) + α·w`` starting from ``image``
    (loss ``feature_weight · Σ_l mse + tv_weight · TV``). α = 1 moves the features by exactly
    the gap between the two neighbourhoods; negative α moves the other way. ``exclude``: a
    dataset index never used as a neighbour (the image itself, if it is in the dataset).
    """
    opts = opts or LoopOptions()
    pos, neg = _dfi_candidates(len(dataset), labels, strengths, k, exclude)
    layers = _check_layers(layers, opts.arch, "--layers")
    check_min_size((size, size), layers)
    vgg = make_vgg(layers, opts)
    dev = opts.device
    sq = partial(_square, size=size)
    src = to_tensor(sq(image), dev)
    with torch.no_grad():
        fx = vgg(src, layers)
        flat, per_layer = _dataset_features(vgg, [sq(im) for im in dataset], layers, dev)
        d = (flat - _flat_features(fx, layers).cpu()).pow(2).sum(1).numpy()
    kp, kn = min(k, len(pos)), min(k, len(neg))
    near_pos = pos[np.argsort(d[pos], kind="stable")[:kp]]
    near_neg = neg[np.argsort(d[neg], kind="stable")[:kn]]
    w = {l: (per_layer[l][near_pos].mean(0, keepdim=True) - per_layer[l][near_neg].mean(0, keepdim=True)).to(dev)
         for l in layers}
    tv = _pick(tv_weight, opts.tv_weight, 1e-2)
    if opts.init == "noise":
        raise StyleForgeError("dfi: reconstruction starts from the input image; --init noise is not supported")
    results = []
    for i, a in enumerate(strengths):
        target = {l: fx[l] + float(a) * w[l] for l in layers}

        def targets(v, hw, target=target):
            if hw != (size, size):
                raise StyleForgeError("dfi: --scales is not supported (the features are fixed at --size)")
            return target

        o = _per_run(opts, f"s{i}")
        obj = FeatureObjective(layers, targets, weight=feature_weight, name="feature")
        results.append(optimize_image(obj, vgg, (size, size), _replace(o, scales=None, init="content"), init_image=src,
                                      tv_weight=tv, desc=f"dfi strength={a:g}"))
    row = [sq(image)] + [r.image for r in results]
    return DFIResult(row=make_grid(row, ncols=len(row)), results=results, strengths=[float(a) for a in strengths],
                     neighbours_with=near_pos.tolist(), neighbours_without=near_neg.tolist(),
                     loss_network=f"{vgg.arch} {vgg.description}")
