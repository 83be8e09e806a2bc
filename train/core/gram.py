"""Gram matrices and the style loss — the only place in StyleForge where Gram matrices are computed.

Normalisation: ``G = F Fᵀ / (C·H·W)`` for features F of shape C×(H·W) (Johnson et al. 2016),
so Gram values do not grow with layer width or image size. The result is always fp32, even for
fp16/bf16 features (fp16 Gram values overflow). On CUDA tensors the fused kernels of
``styleforge.kernels`` are used when available and enabled (``styleforge.kernels.set_enabled``);
everything else takes the PyTorch reference path below.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch


def kernel_ops():
    """The CUDA kernel ops (styleforge.kernels.torch_ops) if they are available and switched on, else None.
    The one switch every CUDA fast path of train/ consults (``STYLEFORGE_KERNELS=0`` turns them off)."""
    try:
        from ...kernels import torch_ops
    except ImportError:
        return None
    return torch_ops if torch_ops.enabled() else None


def gram_matrix_reference(features: torch.Tensor) -> torch.Tensor:
    """PyTorch reference: B×C×H×W (or B×C×N) → B×C×C in fp32, divided by C·H·W."""
    b, c = features.shape[:2]
    f = features.reshape(b, c, -1).float()
    return torch.bmm(f, f.transpose(1, 2)) / (c * f.shape[-1])


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix of B×C×H×W (or B×C×N) features: B×C×C fp32, ``F Fᵀ / (C·H·W)``."""
    if features.dim() not in (3, 4):
        raise ValueError(f"gram_matrix expects B×C×H×W or B×C×N features, got shape {tuple(features.shape)}")
    if features.is_cuda:
        ops = kernel_ops()
        if ops is not None:
            return ops.gram(features)
    return gram_matrix_reference(features)


def style_loss(features: Mapping[str, torch.Tensor] | Sequence[torch.Tensor],
               targets: Mapping[str, torch.Tensor] | Sequence[torch.Tensor],
               weights: Mapping[str, float] | Sequence[float] | None = None) -> torch.Tensor:
    """Σ_l w_l · mean((G(F_l) − G*_l)²) over layers l.

    `targets` are Gram matrices (1×C×C or B×C×C; broadcast over the batch). Equal weights of 1
    by default. Returns a scalar fp32 tensor.
    """
    if isinstance(features, Mapping):
        keys = list(features)
        feats = [features[k] for k in keys]
        tgts = [targets[k] for k in keys]
        if weights is None:
            ws = [1.0] * len(keys)
        elif isinstance(weights, Mapping):
            ws = [float(weights[k]) for k in keys]
        else:
            ws = [float(w) for w in weights]
    else:
        feats, tgts = list(features), list(targets)
        ws = [1.0] * len(feats) if weights is None else [float(w) for w in weights]
    if not (len(feats) == len(tgts) == len(ws)):
        raise ValueError("style_loss: features, targets and weights differ in length")
    if feats and feats[0].is_cuda:
        ops = kernel_ops()
        if ops is not None and hasattr(ops, "style_loss"):
            return ops.style_loss(feats, tgts, ws)
    total = feats[0].new_zeros((), dtype=torch.float32) if feats else torch.zeros(())
    for f, t, w in zip(feats, tgts, ws):
        g = gram_matrix(f)
        total = total + w * torch.mean((g - t.to(g.dtype).expand_as(g)) ** 2)
    return total
