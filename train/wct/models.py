"""WCT autoencoders (Li et al. 2017) and PhotoWCT's unpooling variant (Li et al. 2018).

* :class:`WCTEncoder`: one VGG19 trunk (train/core/vgg.py: same weight rules as the loss network,
  ``random(seed=0)`` without a file) with five taps relu1_1 … relu5_1. Input RGB in [0, 1].
* :class:`WCTDecoder` (registered ``wct_decoder``): the mirror of the encoder up to relu{L}_1 —
  reflection-padded 3×3 convs, ReLU, and 2× nearest upsampling where the encoder pools; with
  ``photo=True`` the upsampling is max-unpooling with the encoder's pooling switches instead.
  ``width_mult`` scales the decoder's inner widths (tiny tests); the input width stays the
  encoder's true width so any decoder fits the true VGG19.

Max-pool switches are kept as a one-hot mask over each 2×2 window (the argmax, first maximum in
row-major order — the index ``max_pool2d(return_indices=True)`` would give). Unpooling puts each
value at its window's switch: the same result as ``max_unpool2d``, but built from argmax,
reshape and multiply so it exports to plain ONNX with dynamic H and W.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..core.registry import register_model
from ..core.vgg import VGG, layer_names

LEVELS = (1, 2, 3, 4, 5)
TAPS = tuple(f"relu{l}_1" for l in LEVELS)
#: Channel width of each tap of VGG19.
TAP_CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}
#: H and W must be multiples of this for a level-L model (L−1 poolings).
def size_multiple(level: int) -> int:
    return 2 ** (max(1, level) - 1)


def pool_switches(x: torch.Tensor) -> torch.Tensor:
    """One-hot mask (same shape as x) of the max of each 2×2 window (first maximum wins)."""
    n, c, h, w = x.shape
    x = x[:, :, : h // 2 * 2, : w // 2 * 2]
    blocks = F.pixel_unshuffle(x.reshape(n * c, 1, h // 2 * 2, w // 2 * 2), 2)  # (n·c)×4×h/2×w/2
    idx = blocks.argmax(1, keepdim=True)
    onehot = (torch.arange(4, device=x.device).view(1, 4, 1, 1) == idx).to(x.dtype)
    return F.pixel_shuffle(onehot, 2).reshape(n, c, h // 2 * 2, w // 2 * 2)


def unpool(y: torch.Tensor, switches: torch.Tensor) -> torch.Tensor:
    """Max-unpooling: 2× nearest upsampling masked by the switches (channels beyond y's are ignored)."""
    up = F.interpolate(y, scale_factor=2.0, mode="nearest")
    return up * switches[:, : y.shape[1]]


class WCTEncoder(nn.Module):
    """VGG19 to relu{max_level}_1 with taps at every relu{l}_1; input RGB [0, 1], ImageNet-normalised inside."""

    def __init__(self, max_level: int = 5, weights: str | None = None, warn: bool = True):
        super().__init__()
        self.max_level = int(max_level)
        self.vgg = VGG("vgg19", layers=[f"relu{self.max_level}_1"], weights=weights, warn=warn)
        self.description = self.vgg.description

    def forward(self, x: torch.Tensor, level: int, photo: bool = False):
        """Features at relu{level}_1; with ``photo`` also the pooling switches (list, shallow first)."""
        target = f"relu{level}_1"
        h = (x - self.vgg.mean) / self.vgg.std
        switches = []
        for name, module in zip(self.vgg.names, self.vgg.features):
            if isinstance(module, nn.MaxPool2d) and photo:
                switches.append(pool_switches(h))
            h = module(h)
            if name == target:
                return (h, switches) if photo else h
        raise ValueError(f"encoder goes to relu{self.max_level}_1; level {level} is out of range")

    def taps(self, x: torch.Tensor, levels=LEVELS) -> dict[int, torch.Tensor]:
        """One pass, several taps: {level: features}."""
        want = {f"relu{l}_1": l for l in levels}
        h = (x - self.vgg.mean) / self.vgg.std
        out = {}
        for name, module in zip(self.vgg.names, self.vgg.features):
            h = module(h)
            if name in want:
                out[want[name]] = h
                if len(out) == len(want):
                    break
        return out


def _encoder_plan(level: int) -> list:
    """Encoder ops up to relu{level}_1: ("conv", cin, cout) / ("pool",)."""
    names = layer_names("vgg19")
    from ..core.vgg import CFGS

    plan, cin, k = [], 3, 0
    for v in CFGS["vgg19"]:
        if v == "M":
            plan.append(("pool",))
            k += 1
        else:
            plan.append(("conv", cin, v))
            k += 2
            cin = v
        if names[k - 1] == f"relu{level}_1":
            break
    return plan


@register_model("wct_decoder")
class WCTDecoder(nn.Module):
    """Mirror of the VGG19 encoder up to relu{level}_1: features → RGB in [0, 1] (not clamped).

    forward(features, switches=None): ``switches`` (from ``WCTEncoder(..., photo=True)``) is
    required when ``photo`` is set.
    """

    def __init__(self, level: int = 1, width_mult: float = 1.0, photo: bool = False):
        super().__init__()
        if level not in LEVELS:
            raise ValueError(f"level must be 1..5, got {level}")
        self.level, self.width_mult, self.photo = int(level), float(width_mult), bool(photo)
        plan = _encoder_plan(self.level)
        layers: list[nn.Module] = []
        first = True
        for op in reversed(plan):
            if op[0] == "pool":
                layers.append(nn.Identity())  # marks an upsampling / unpooling point
                continue
            _, cin, cout = op
            c_in = cout if first else max(4, int(round(cout * width_mult)))
            c_out = 3 if cin == 3 else max(4, int(round(cin * width_mult)))
            first = False
            layers.append(nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3)))
        self.layers = nn.ModuleList(layers)
        self.size_multiple = size_multiple(self.level)

    def forward(self, x: torch.Tensor, switches: list[torch.Tensor] | None = None) -> torch.Tensor:
        if self.photo and switches is None:
            raise ValueError("a PhotoWCT decoder needs the encoder's pooling switches")
        k = len(switches) if switches is not None else 0
        n = len(self.layers)
        for i, layer in enumerate(self.layers):
            if isinstance(layer, nn.Identity):
                if self.photo:
                    k -= 1
                    x = unpool(x, switches[k])
                else:
                    x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            else:
                x = layer(x)
                if i < n - 1:
                    x = F.relu(x)
        return x
