"""Photorealistic smoothing, exact form: FastPhotoStyle's closed form with the matting affinity.

    R* = (1 − α) (I − α S)^{-1} Y,   S = D^{-1/2} W D^{-1/2},   α = 1 / (1 + λ)

W is the matting affinity of the content photo (Levin et al. 2008: 3×3 windows, ε), D its degree
matrix, Y the PhotoWCT output. One sparse solve per colour channel (SciPy): slow, memory grows
with 81 entries per pixel, meant for reference and small images (≤ ~256²). numpy + SciPy only
(no torch), so the runtime can call it too. The fast approximation is
styleforge.runtime.guided_filter.smooth_fast.
"""
from __future__ import annotations

import numpy as np

from ...runtime.errors import StyleForgeError


def matting_affinity(img: np.ndarray, eps: float = 1e-7, r: int = 1):
    """Sparse N×N matting affinity W of an H×W×3 float image in [0, 1] (Levin et al.'s closed form)."""
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy import sparse

    h, w, _ = img.shape
    k = 2 * r + 1
    nw = k * k
    idx = np.arange(h * w).reshape(h, w)
    win_idx = sliding_window_view(idx, (k, k)).reshape(-1, nw)                   # M×9
    win_I = sliding_window_view(img, (k, k), axis=(0, 1)).reshape(-1, 3, nw)     # M×3×9
    win_I = win_I.transpose(0, 2, 1).astype(np.float64)                          # M×9×3
    mu = win_I.mean(1, keepdims=True)                                            # M×1×3
    d = win_I - mu
    cov = np.einsum("mki,mkj->mij", d, d) / nw
    inv = np.linalg.inv(cov + (eps / nw) * np.eye(3))
    vals = (1.0 + np.einsum("mki,mij,mlj->mkl", d, inv, d)) / nw                 # M×9×9
    rows = np.repeat(win_idx, nw, axis=1).ravel()
    cols = np.tile(win_idx, (1, nw)).ravel()
    return sparse.csr_matrix((vals.ravel(), (rows, cols)), shape=(h * w, h * w))


def smooth_exact(stylized: np.ndarray, content: np.ndarray, lam: float = 1e-4, eps: float = 1e-7,
                 max_pixels: int = 512 * 512) -> np.ndarray:
    """Exact smoothing of a stylised H×W×3 uint8 image with the content photo's matting affinity."""
    try:
        from scipy import sparse
        from scipy.sparse.linalg import spsolve
    except ImportError:
        raise StyleForgeError("photo_smooth='exact' needs SciPy (pip install scipy); use photo_smooth='fast' without it") from None
    if stylized.shape != content.shape:
        raise StyleForgeError(f"smooth_exact: shapes differ {stylized.shape} vs {content.shape}")
    h, w = content.shape[:2]
    if h * w > max_pixels:
        raise StyleForgeError(f"photo_smooth='exact' on a {w}x{h} image would need a {h * w:,}-unknown sparse solve; "
                              f"use ≤ {max_pixels:,} pixels (--max-side) or photo_smooth='fast'")
    W = matting_affinity(content / 255.0, eps)
    deg = np.asarray(W.sum(1)).ravel()
    dinv = sparse.diags(1.0 / np.sqrt(np.maximum(deg, 1e-12)))
    S = dinv @ W @ dinv
    alpha = 1.0 / (1.0 + lam)
    A = (sparse.identity(h * w, format="csr") - alpha * S).tocsc()
    Y = stylized.reshape(-1, 3) / 255.0
    R = spsolve(A, (1 - alpha) * Y)
    return np.clip(np.rint(np.asarray(R).reshape(h, w, 3) * 255.0), 0, 255).astype(np.uint8)
