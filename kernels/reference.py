"""Reference implementations (float64 numpy, and torch) of what the CUDA kernels compute.

The numpy versions need nothing but numpy; the torch versions import torch inside the function.
They define the kernels' semantics and are what the GPU tests compare against.
"""
from __future__ import annotations

import numpy as np


# ------------------------------------------------------------------------------------------ numpy, float64
def covariance_np(x, *, centre: bool = True, scale: float | str = "n-1"):
    """x: B×C×N → (B×C×C, B×C): scale · (x − μ)(x − μ)ᵀ (or x xᵀ without centring), and μ."""
    from .ops import scale_value

    x = np.asarray(x, dtype=np.float64)
    b, c, n = x.shape
    mu = x.mean(-1)
    xc = x - mu[..., None] if centre else x
    return np.einsum("bin,bjn->bij", xc, xc) * scale_value(scale, c, n), mu


def gram_np(x):
    """Gram matrix as train/core/gram.py defines it: F Fᵀ / (C·N), float64."""
    return covariance_np(x, centre=False, scale="cn")[0]


def style_loss_np(feats, targets, weights):
    """Σ_l w_l · mean((G(F_l) − G*_l)²) and dL/dF_l = 4 w_l / (B·C²) / (C·N) · sym(G − G*) F."""
    loss, grads = 0.0, []
    for f, t, w in zip(feats, targets, weights):
        f = np.asarray(f, dtype=np.float64)
        b, c, n = f.shape
        d = gram_np(f) - np.broadcast_to(np.asarray(t, dtype=np.float64), (b, c, c))
        loss += w * np.mean(d ** 2)
        ds = 0.5 * (d + np.swapaxes(d, 1, 2))  # a non-symmetric target contributes its symmetric part
        grads.append(4.0 * w / (b * c * c) / (c * n) * np.einsum("bij,bjn->bin", ds, f))
    return loss, grads


def _sym_pow(a, p):
    vals, vecs = np.linalg.eigh(a)
    return (vecs * np.clip(vals, 1e-300, None) ** p) @ vecs.T


def ridge_np(cov, reg):
    """The relative ridge ``reg · tr(Σ)/C`` of train/wct/transforms.py (shape …×1×1)."""
    c = cov.shape[-1]
    return reg * np.trace(cov, axis1=-2, axis2=-1)[..., None, None] / c


def ns_sqrt_invsqrt_np(a, iters: int):
    """Coupled Newton–Schulz (as sf_ns_*): (A^{1/2}, A^{-1/2}) after Frobenius normalisation."""
    a = np.asarray(a, dtype=np.float64)
    c = a.shape[-1]
    eye = np.eye(c)
    s = np.sqrt((a * a).sum((-2, -1), keepdims=True))
    y, z = a / s, np.broadcast_to(eye, a.shape).copy()
    for _ in range(iters):
        t = 1.5 * eye - 0.5 * z @ y
        y, z = y @ t, t @ z
    return y * np.sqrt(s), z / np.sqrt(s)


def whiten_color_np(fc, fs, *, alpha: float = 1.0, reg: float = 1e-5, color_reg: float | None = None,
                    iters: int | None = 20):
    """WCT in float64 with train/wct/transforms.py's policy: out = α(M(fc − μc) + μs) + (1 − α)fc,
    M = Σs (Σs + r_s)^{-1/2} · (Σc + r_c)^{-1/2}, r_c = reg·tr Σc/C, r_s = color_reg·tr Σs/C (relative ridges;
    color_reg defaults to reg).
    B×C×Nc content, B×C×Ns (or 1×C×Ns) style. ``iters=None``: exact (eigh) inverse roots; an int: the
    same Newton–Schulz as the kernel."""
    fc = np.asarray(fc, dtype=np.float64)
    fs = np.asarray(fs, dtype=np.float64)
    cc, mc = covariance_np(fc)
    cs, ms = covariance_np(fs)
    eye = np.eye(fc.shape[1])
    color_reg = reg if color_reg is None else color_reg
    rc = cc + ridge_np(cc, reg) * eye
    rs = cs + ridge_np(cs, color_reg) * eye
    out = np.empty_like(fc)
    for b in range(fc.shape[0]):
        s = b if fs.shape[0] == fc.shape[0] else 0
        if iters is None:
            m = cs[s] @ _sym_pow(rs[s], -0.5) @ _sym_pow(rc[b], -0.5)
        else:
            m = cs[s] @ ns_sqrt_invsqrt_np(rs[s], iters)[1] @ ns_sqrt_invsqrt_np(rc[b], iters)[1]
        w = m @ (fc[b] - mc[b][:, None]) + ms[s][:, None]
        out[b] = alpha * w + (1 - alpha) * fc[b]
    return out


# ------------------------------------------------------------------------------------------ torch
def covariance_torch(x, *, centre: bool = True, scale: float | str = "n-1"):
    """Eager PyTorch chain (mean, subtract, bmm, scale) in x's precision (fp32 out): the benchmark baseline."""
    import torch

    from .ops import scale_value

    b, c, n = x.shape
    xf = x if x.dtype == torch.float64 else x.float()
    mu = xf.mean(-1, keepdim=True)
    xc = xf - mu if centre else xf
    return torch.bmm(xc, xc.transpose(1, 2)) * scale_value(scale, c, n), mu.squeeze(-1)


def gram_torch(x):
    return covariance_torch(x, centre=False, scale="cn")[0]


def wct_eigh_torch(fc, fs, *, alpha: float = 1.0, reg: float = 1e-5, color_reg: float | None = None):
    """The torch.linalg.eigh WCT path (the benchmark baseline; float64 in → float64 reference): the same
    function as the kernel, M = Σs (Σs + r_s)^{-1/2} (Σc + r_c)^{-1/2}, with eigendecompositions."""
    import torch

    def stats(f, rel):
        mu = f.mean(-1, keepdim=True)
        x = f - mu
        cov = torch.bmm(x, x.transpose(1, 2)) / (f.shape[-1] - 1)
        c = cov.shape[-1]
        tr = torch.diagonal(cov, dim1=-2, dim2=-1).sum(-1)[..., None, None]
        return mu, x, cov, cov + (rel * tr / c) * torch.eye(c, device=f.device, dtype=f.dtype)

    def inv_sqrt(a):
        vals, vecs = torch.linalg.eigh(a)
        return (vecs * vals.clamp(min=1e-30).rsqrt().unsqueeze(-2)) @ vecs.transpose(-1, -2)

    if fc.dtype != torch.float64:
        fc, fs = fc.float(), fs.float()
    _, xc, _, rc = stats(fc, reg)
    mus, _, cs, rs = stats(fs, reg if color_reg is None else color_reg)
    out = (cs @ inv_sqrt(rs)) @ (inv_sqrt(rc) @ xc) + mus
    return alpha * out + (1 - alpha) * fc
