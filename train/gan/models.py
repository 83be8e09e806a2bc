"""DCGAN-style generator and discriminator (also the WGAN / WGAN-GP critic and the conditional pair).

Generator (Radford 2015): z (+ label embedding) → transposed conv 4×4 → [transposed conv stride 2,
batch norm, ReLU]* → transposed conv → tanh. Named blocks ``block0`` (4×4), ``block1`` (8×8) …
are the dissectable layers. Discriminator: strided convs with LeakyReLU(0.2), norm ``batch``
(DCGAN), ``none`` (WGAN critic) or ``layer`` (WGAN-GP critic), down to 4×4, then a 4×4 conv to
one logit. Conditional: one-hot label maps concatenated to the image, or (``projection=True``)
a projection discriminator (Miyato & Koyama 2018). Weights initialised N(0, 0.02).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..core.registry import register_model


def n_levels(resolution: int) -> int:
    """Number of resolutions 4, 8, …, resolution (resolution a power of two ≥ 8)."""
    lv = math.log2(resolution / 4)
    if resolution < 8 or lv != int(lv):
        from ...runtime.errors import StyleForgeError

        raise StyleForgeError(f"--resolution must be a power of two >= 8 (8, 16, 32, 64, ...), got {resolution}")
    return int(lv) + 1


def dcgan_init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 1.0)


class LatentGenerator(nn.Module):
    """Common interface of latent-space generators (the export and the latent tools rely on it)."""

    nz: int
    n_classes: int
    chs: list[int]   # channels of block0 (4×4), block1 (8×8), …

    def blocks_and_sizes(self) -> list[tuple[str, int, int]]:
        """(name, channels, side) of every dissectable layer."""
        return [(f"block{i}", ch, 4 * 2 ** i) for i, ch in enumerate(self.chs)]

    @staticmethod
    def dissect_tap(h, i: int, layer: str | None, unit_scale, act):
        """After block i: if it is the dissected `layer`, scale its channels by `unit_scale` and record it.
        Returns (h, act) — the one dissection hook every latent generator calls."""
        if layer != f"block{i}":
            return h, act
        if unit_scale is not None:
            h = h * unit_scale.reshape(1, -1, 1, 1)
        return h, h

    def synthesize(self, z, label=None, layer: str | None = None, unit_scale=None):
        """Image in [-1, 1] (N×C×R×R) and, if `layer` is given, that layer's activation after
        multiplying its channels by `unit_scale` (C,)."""
        raise NotImplementedError

    def forward(self, z, label=None):
        return self.synthesize(z, label)[0]


@register_model("dcgan_generator")
class DCGANGenerator(LatentGenerator):
    def __init__(self, nz: int = 64, channels: int = 1, resolution: int = 16, width_mult: float = 1.0,
                 n_classes: int = 0, embed_dim: int = 32):
        super().__init__()
        self.nz, self.n_classes, self.channels, self.resolution = nz, n_classes, channels, resolution
        L = n_levels(resolution)
        ngf = max(4, round(64 * width_mult))
        self.chs = [ngf * 2 ** (L - 2 - i) for i in range(L - 1)]
        self.embed = nn.Embedding(n_classes, embed_dim) if n_classes else None
        c_in = nz + (embed_dim if n_classes else 0)
        blocks = []
        for i, ch in enumerate(self.chs):
            conv = nn.ConvTranspose2d(c_in, ch, 4, 1, 0, bias=False) if i == 0 else nn.ConvTranspose2d(c_in, ch, 4, 2, 1, bias=False)
            blocks.append(nn.Sequential(conv, nn.BatchNorm2d(ch), nn.ReLU(True)))
            c_in = ch
        self.blocks = nn.ModuleList(blocks)
        self.to_img = nn.ConvTranspose2d(c_in, channels, 4, 2, 1)
        dcgan_init(self)

    def synthesize(self, z, label=None, layer=None, unit_scale=None):
        h = z
        if self.embed is not None:
            if label is None:
                raise ValueError("conditional generator needs a label")
            h = torch.cat([z, self.embed(label)], 1)
        h = h.reshape(h.shape[0], h.shape[1], 1, 1)
        act = None
        for i, block in enumerate(self.blocks):
            h, act = self.dissect_tap(block(h), i, layer, unit_scale, act)
        return torch.tanh(self.to_img(h)), act


def _norm(kind: str, ch: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "layer":
        return nn.GroupNorm(1, ch)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r} (batch, layer, none)")


@register_model("dcgan_discriminator")
class DCGANDiscriminator(nn.Module):
    def __init__(self, channels: int = 1, resolution: int = 16, width_mult: float = 1.0, norm: str = "batch",
                 n_classes: int = 0, projection: bool = False):
        super().__init__()
        self.n_classes, self.projection = n_classes, bool(projection and n_classes)
        L = n_levels(resolution)
        ndf = max(4, round(64 * width_mult))
        c_in = channels + (n_classes if n_classes and not self.projection else 0)
        layers = [nn.Conv2d(c_in, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        ch = ndf
        for _ in range(L - 2):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=norm != "batch"), _norm(norm, ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        self.features = nn.Sequential(*layers)
        self.out = nn.Conv2d(ch, 1, 4, 1, 0)
        self.embed = nn.Embedding(n_classes, ch) if self.projection else None
        dcgan_init(self)

    def forward(self, x, label=None):
        if self.n_classes and not self.projection:
            onehot = F.one_hot(label, self.n_classes).to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[-2:])
            x = torch.cat([x, onehot], 1)
        h = self.features(x)
        logit = self.out(h).flatten()
        if self.embed is not None:
            logit = logit + (self.embed(label) * h.sum((2, 3))).sum(1)
        return logit
