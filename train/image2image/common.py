"""What pix2pix and CycleGAN share: norm layers, the pix2pix/CycleGAN weight initialisation, the
PatchGAN discriminator, and the option handling of their trainers."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...runtime.errors import StyleForgeError
from ..core.registry import register_model
from ..core.trainer import Trainer


def norm_layer(kind: str, ch: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(ch, affine=False, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "none":
        return nn.Identity()
    raise StyleForgeError(f"unknown norm {kind!r}; choose one of: batch, instance, none")


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """pix2pix/CycleGAN initialisation: conv weights N(0, 0.02), biases 0, norm scales N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


def width(base: int, width_mult: float) -> int:
    return max(1, int(round(base * width_mult)))


@register_model("patchgan")
class PatchDiscriminator(nn.Module):
    """PatchGAN: n_layers stride-2 convs then two stride-1 convs; one logit per (70×70 for n=3) patch."""

    def __init__(self, in_channels: int = 6, width_mult: float = 1.0, n_layers: int = 3, norm: str = "instance"):
        super().__init__()
        ndf = width(64, width_mult)
        bias = norm != "batch"
        layers = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2 ** n, 8)
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, 2, 1, bias=bias), norm_layer(norm, ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2 ** n_layers, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, 1, 1, bias=bias), norm_layer(norm, ndf * mult), nn.LeakyReLU(0.2, True),
                   nn.Conv2d(ndf * mult, 1, 4, 1, 1)]
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x):
        return self.model(x)


def receptive_field(n_layers: int) -> int:
    """Receptive field of a PatchGAN with n_layers (3 → 70)."""
    rf = 1
    for stride in [1, 1] + [2] * n_layers:  # walked from the output back to the input
        rf = (rf - 1) * stride + 4
    return rf


def check_patchgan_size(resolution: int, n_layers: int) -> None:
    """A PatchGAN with n_layers needs crops of at least 3·2**n_layers pixels (24 for n_layers = 3)."""
    need = 3 * 2 ** n_layers
    if n_layers < 1 or resolution < need:
        raise StyleForgeError(f"--resolution {resolution} is too small for a PatchGAN with --n-layers {n_layers} "
                              f"(needs at least {need} px); raise --resolution or lower --n-layers")


def set_requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def to_uint8_images(t: torch.Tensor) -> list[np.ndarray]:
    """N×3×H×W in [-1, 1] → list of H×W×3 uint8."""
    a = ((t.detach().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return list(a)


class ImageToImageTrainer(Trainer):
    """The base of the pix2pix and CycleGAN trainers: options dataclass handling comes from Trainer;
    ``ImageToImageTrainer(out, {"resolution": 64}, steps=600)`` as any trainer."""

    family = "image2image"
    interface = "translator"
