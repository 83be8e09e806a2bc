"""The template family's network: a plain ``nn.Module`` registered by name; its constructor's keyword
arguments are its JSON config (what a checkpoint stores to rebuild it)."""
from __future__ import annotations

from torch import nn

from ..core.registry import register_model


@register_model("template_net")
class TemplateNet(nn.Module):
    """[-1, 1] image → [-1, 1] image: conv, one stride-2 down and up, conv (H and W multiples of 2)."""

    size_multiple = 2

    def __init__(self, width: int = 8):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(width, 3, 3, padding=1), nn.Tanh())

    def forward(self, x):
        return self.net(x)
