"""Multi-level universal style transfer in PyTorch: coarse-to-fine WCT relu5_1 → relu1_1.

At each level L (deepest first): encode the current image to relu{L}_1, whiten–colour the
features towards the style (per-level alpha blend), decode back to an image. Texture synthesis
starts from noise and runs the same cascade with alpha = 1, several passes. Images are RGB in
[0, 1] here; the export graphs (export/wct/exporter.py) wrap this with the bundles' [0, 255] convention.
The same module runs in every mode (``exact`` | ``ns`` | ``adain``), so the NS graph and the
exact reference differ only in the transform. Its regulariser is the pipeline setting of
train/wct/transforms.py (relative ridges PIPELINE_REG / PIPELINE_COLOR_REG: fp32-stable through the cascade).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .transforms import (DROP_EIG, NS_ITERS, PIPELINE_COLOR_REG, PIPELINE_REG, apply_style_stats,
                         masked_whiten_color, style_stats)


class WCTPipeline(nn.Module):
    def __init__(self, encoder: nn.Module, decoders: dict[int, nn.Module], *, photo: bool = False, mode: str = "ns",
                 iters: int = NS_ITERS, reg: float = PIPELINE_REG, color_reg: float = PIPELINE_COLOR_REG,
                 drop: float = DROP_EIG):
        super().__init__()
        self.encoder = encoder
        self.decoders = nn.ModuleDict({str(l): d for l, d in decoders.items()})
        self.levels = sorted(decoders, reverse=True)  # coarse to fine
        self.photo, self.mode = photo, mode
        self.kw = {"iters": iters, "reg": reg, "drop": drop}   # whitening (and exact mode's drop)
        self.color_reg = color_reg
        self.size_multiple = 2 ** (max(self.levels) - 1)

    def with_mode(self, mode: str) -> "WCTPipeline":
        p = WCTPipeline(self.encoder, {int(k): v for k, v in self.decoders.items()}, photo=self.photo, mode=mode,
                        color_reg=self.color_reg, **self.kw)
        return p.eval()

    # --- pieces -----------------------------------------------------------------------------
    def encode_style(self, style: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """[(mean B×C×1, colouring B×C×C)] per level, in ``self.levels`` order (coarse first)."""
        feats = self.encoder.taps(style, self.levels)
        kw = {**self.kw, "reg": self.color_reg}
        return [style_stats(feats[l].flatten(2), self.mode, **kw) for l in self.levels]

    def _alpha(self, alpha, i: int):
        if isinstance(alpha, torch.Tensor):
            return alpha.reshape(-1)[i] if alpha.numel() > 1 else alpha.reshape(())
        if isinstance(alpha, (list, tuple)):
            return float(alpha[i])
        return float(alpha)

    def _encode(self, x, level):
        if self.photo:
            return self.encoder(x, level, photo=True)
        return self.encoder(x, level), None

    def cascade(self, content: torch.Tensor, transform, levels=None) -> torch.Tensor:
        """The coarse-to-fine loop every form of WCT shares (PyTorch, the NS graph, the TensorRT plugin graph):
        at each level encode, ``transform(i, level, f)`` the features f (B×C×H×W → B×C×N), decode, clamp."""
        x = content
        for i, level in enumerate(levels or self.levels):
            f, sw = self._encode(x, level)
            out = transform(i, level, f)
            x = self.decoders[str(level)](out.reshape_as(f), sw).clamp(0.0, 1.0)
        return x

    def stylize(self, content: torch.Tensor, stats, alpha=1.0) -> torch.Tensor:
        """content B×3×H×W in [0, 1] (H, W multiples of ``size_multiple``) → stylised image in [0, 1].

        `alpha`: a number, a per-level sequence (coarse first) or a tensor of either.
        """
        return self.cascade(content, lambda i, level, f: apply_style_stats(
            f.flatten(2), stats[i][0], stats[i][1], self._alpha(alpha, i), self.mode, **self.kw))

    def forward(self, content: torch.Tensor, style: torch.Tensor, alpha=1.0) -> torch.Tensor:
        return self.stylize(content, self.encode_style(style), alpha)

    def stylize_masked(self, content: torch.Tensor, style: torch.Tensor, content_mask: torch.Tensor,
                       style_mask: torch.Tensor, alpha=1.0, min_region: int = 16) -> torch.Tensor:
        """Region-to-region transfer (batch 1): label k of `content_mask` takes the style of label k of
        `style_mask` (integer label images of any size). Tiny or unmatched regions keep their content."""
        def transform(i, level, f):
            fs = self.encoder(style, level)
            return masked_whiten_color(f[0].flatten(1), fs[0].flatten(1), content_mask, style_mask,
                                       tuple(f.shape[-2:]), tuple(fs.shape[-2:]), self.mode,
                                       self._alpha(alpha, i), min_region=min_region, color_reg=self.color_reg,
                                       **self.kw)

        return self.cascade(content, transform)

    def texture(self, style: torch.Tensor, size: tuple[int, int] = (256, 256), passes: int = 3,
                seed: int = 0) -> torch.Tensor:
        """Texture synthesis: colour noise with the style's statistics, coarse to fine, `passes` times."""
        g = torch.Generator().manual_seed(seed)
        m = self.size_multiple
        h, w = (-(-size[0] // m) * m, -(-size[1] // m) * m)
        x = noise_like_style(style, (h, w), g)
        stats = self.encode_style(style)
        for _ in range(passes):
            x = self.stylize(x, stats, 1.0)
        return x[..., : size[0], : size[1]]


def noise_like_style(style: torch.Tensor, hw: tuple[int, int], generator) -> torch.Tensor:
    """Gaussian noise with the style's per-channel mean and std, clipped to [0, 1] (1×3×h×w)."""
    mean = style.mean((0, 2, 3)).view(1, 3, 1, 1)
    std = style.std((0, 2, 3)).view(1, 3, 1, 1)
    return (mean + std * torch.randn((1, 3, *hw), generator=generator)).clamp(0, 1)


def load_pipeline(path, mode: str = "ns", **kw) -> tuple[WCTPipeline, dict]:
    """A :class:`WCTPipeline` from a WCT folder of level runs (see train/wct/trainer.py)."""
    from .trainer import load_wct_dir

    encoder, decoders, info = load_wct_dir(path)
    return WCTPipeline(encoder, decoders, photo=info["photo"], mode=mode, **kw).eval(), info
