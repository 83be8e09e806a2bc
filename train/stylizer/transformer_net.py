"""Johnson et al. 2016 image transformation network, with optional conditional instance norm
(Dumoulin et al. 2017) so one network holds N styles.

Reflection padding everywhere, instance norm, 5 residual blocks, nearest-neighbour upsampling
followed by a convolution (no transposed convolutions, so no checkerboard artefacts).
Input and output are RGB in [0, 255]; the output is clamped to that range.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..core.registry import register_model


class CondInstanceNorm(nn.Module):
    """Instance norm with one (γ, β) pair per style; ``num_styles == 1`` is plain affine instance norm."""

    def __init__(self, channels: int, num_styles: int = 1):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.weight = nn.Parameter(torch.ones(num_styles, channels))
        self.bias = nn.Parameter(torch.zeros(num_styles, channels))

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        gamma = self.weight.index_select(0, style)[:, :, None, None]
        beta = self.bias.index_select(0, style)[:, :, None, None]
        return self.norm(x) * gamma + beta


class ConvLayer(nn.Module):
    """Reflection pad + conv (+ optional nearest upsample first)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, upsample: int | None = None):
        super().__init__()
        self.upsample = upsample
        self.pad = nn.ReflectionPad2d(kernel // 2)
        self.conv = nn.Conv2d(cin, cout, kernel, stride)

    def forward(self, x):
        if self.upsample:
            x = F.interpolate(x, scale_factor=self.upsample, mode="nearest")
        return self.conv(self.pad(x))


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, num_styles: int):
        super().__init__()
        self.conv1, self.in1 = ConvLayer(channels, channels, 3), CondInstanceNorm(channels, num_styles)
        self.conv2, self.in2 = ConvLayer(channels, channels, 3), CondInstanceNorm(channels, num_styles)

    def forward(self, x, style):
        y = F.relu(self.in1(self.conv1(x), style))
        return x + self.in2(self.conv2(y), style)


@register_model("transformer_net")
class TransformerNet(nn.Module):
    """Feed-forward stylizer. ``width_mult`` scales the 32/64/128 channel plan (0.125 for tests).

    forward(image[N,3,H,W] in [0,255], style_index[N] int64 = 0) → image in [0,255].
    H and W must be multiples of 4 (two stride-2 stages); the runtime pads and crops.
    """

    size_multiple = 4

    def __init__(self, width_mult: float = 1.0, num_styles: int = 1, num_res_blocks: int = 5):
        super().__init__()
        c1, c2, c3 = (max(4, int(round(c * width_mult))) for c in (32, 64, 128))
        self.num_styles = num_styles
        self.conv1, self.in1 = ConvLayer(3, c1, 9), CondInstanceNorm(c1, num_styles)
        self.conv2, self.in2 = ConvLayer(c1, c2, 3, 2), CondInstanceNorm(c2, num_styles)
        self.conv3, self.in3 = ConvLayer(c2, c3, 3, 2), CondInstanceNorm(c3, num_styles)
        self.res = nn.ModuleList(ResidualBlock(c3, num_styles) for _ in range(num_res_blocks))
        self.up1, self.in4 = ConvLayer(c3, c2, 3, upsample=2), CondInstanceNorm(c2, num_styles)
        self.up2, self.in5 = ConvLayer(c2, c1, 3, upsample=2), CondInstanceNorm(c1, num_styles)
        self.out = ConvLayer(c1, 3, 9)

    def forward(self, x: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        if style is None:
            style = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        y = x / 255.0
        y = F.relu(self.in1(self.conv1(y), style))
        y = F.relu(self.in2(self.conv2(y), style))
        y = F.relu(self.in3(self.conv3(y), style))
        for block in self.res:
            y = block(y, style)
        y = F.relu(self.in4(self.up1(y), style))
        y = F.relu(self.in5(self.up2(y), style))
        return (torch.sigmoid(self.out(y)) * 255.0)
