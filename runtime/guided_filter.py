"""Photorealistic smoothing after PhotoWCT, the fast form (numpy only; no torch, no SciPy).

FastPhotoStyle (Li et al. 2018) pulls the stylised image's local structure back to the content
photo. Its exact step is a sparse linear solve with the matting affinity
(styleforge.train.wct.matting_smooth, SciPy); the fast approximation is a guided filter (He et al.
2013) of the stylised image with the content photo as the guide. Every operation below is a box
filter (cumulative sums), an elementwise product or a 3×3 solve per pixel, so the same filter
can also be written as an ONNX graph.
"""
from __future__ import annotations

import numpy as np


def box_filter(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over the (2r+1)² window around each pixel (windows clipped at the border), H×W[×C]."""
    h, w = x.shape[:2]
    pad = [(1, 0), (1, 0)] + [(0, 0)] * (x.ndim - 2)
    c = np.pad(np.cumsum(np.cumsum(x, 0, dtype=np.float64), 1), pad)
    y0 = np.clip(np.arange(h) - r, 0, h)
    y1 = np.clip(np.arange(h) + r + 1, 0, h)
    x0 = np.clip(np.arange(w) - r, 0, w)
    x1 = np.clip(np.arange(w) + r + 1, 0, w)
    s = c[y1][:, x1] - c[y0][:, x1] - c[y1][:, x0] + c[y0][:, x0]
    area = ((y1 - y0)[:, None] * (x1 - x0)[None, :]).astype(np.float64)
    return s / area.reshape(h, w, *([1] * (x.ndim - 2)))


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int = 8, eps: float = 1e-2) -> np.ndarray:
    """Colour guided filter: H×W×3 guide and H×W×C source, both float in [0, 1]; returns H×W×C."""
    I = guide.astype(np.float64)
    p = src.astype(np.float64)
    mI = box_filter(I, radius)                                         # H×W×3
    mp = box_filter(p, radius)                                         # H×W×C
    mIp = box_filter(I[..., :, None] * p[..., None, :], radius)        # H×W×3×C
    cov_Ip = mIp - mI[..., :, None] * mp[..., None, :]
    mII = box_filter(I[..., :, None] * I[..., None, :], radius)        # H×W×3×3
    var_I = mII - mI[..., :, None] * mI[..., None, :] + eps * np.eye(3)
    a = np.linalg.solve(var_I, cov_Ip)                                 # H×W×3×C
    b = mp - np.einsum("hwk,hwkc->hwc", mI, a)
    ma = box_filter(a.reshape(*a.shape[:2], -1), radius).reshape(a.shape)
    mb = box_filter(b, radius)
    return np.einsum("hwk,hwkc->hwc", I, ma) + mb


def default_radius(h: int, w: int) -> int:
    return max(2, round(min(h, w) / 48))


def smooth_fast(stylized: np.ndarray, content: np.ndarray, radius: int | None = None, eps: float = 1e-2) -> np.ndarray:
    """Guided-filter smoothing of a stylised H×W×3 uint8 image, guided by the content H×W×3 uint8."""
    if stylized.shape != content.shape:
        raise ValueError(f"smooth_fast: shapes differ {stylized.shape} vs {content.shape}")
    r = radius or default_radius(*content.shape[:2])
    out = guided_filter(content / 255.0, stylized / 255.0, r, eps)
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)
