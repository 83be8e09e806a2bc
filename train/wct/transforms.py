"""Whitening–colouring transforms (WCT, Li et al. 2017), their Newton–Schulz form, and AdaIN.

Features are C×N (or B×C×N) torch tensors: C channels, N = H·W positions.

Regulariser policy (explicit; the same in every mode, so modes compare like for like)
------------------------------------------------------------------------------------
* Whitening (content): the covariance gets a ridge ``(reg · tr Σc / C + FLOOR) · I`` — a part
  relative to the mean eigenvalue (scale-free, ``reg = 1e-5``) plus an absolute floor
  ``FLOOR = 1e-3`` = 100 × the eigenvalue cut-off ``drop = 1e-5`` (real relu{L}_1 covariances of
  the bundled photos have largest eigenvalues ~1–50, so the floor touches only directions
  1e3–1e5 times weaker than the strongest). This is the original Torch code's choice — a ridge on
  the content covariance only (it adds ``+I``, tied to Caffe-VGG feature scales) — made scale-free.
* Colouring (style): no ridge. ``exact`` colours with Σs^{1/2} over the eigenvalues ≥ ``drop``
  (dropped ones contribute nothing). ``ns`` colours with ``Σs (Σs + r)^{-1/2}``, r = reg · tr Σs / C
  + COLOR_FLOOR (1e-4; the coupled iteration's inverse root): that is Σs^{1/2}·(1 − r/2λ) on a
  direction of eigenvalue λ ≫ r, at most 1e-5/√r = 1e-3 on a direction the exact mode drops
  (λ < 1e-5), and it vanishes
  on the style's null space exactly as the drop does — the deep levels are rank-deficient
  whenever the style has fewer positions than channels (relu5_1 of a 128² style: 64 < 512), and
  ``(Σs + ridge)^{1/2}`` would put √ridge on every null direction instead. COLOR_FLOOR was
  chosen by measurement (1e-5 … 1e-3 tried): 1e-4 keeps NS vs exact ≤ 9e-4 relative at every
  level of 64² and 128² images, for 20 and 28 iterations alike.
* ``exact`` whitening drops directions whose raw content eigenvalue is < ``drop`` (the paper's
  1e-5, absolute: the encoder's input range [0, 1] is fixed) and uses the ridged eigenvalues for
  the rest. Newton–Schulz cannot drop, but the floor damps those directions by
  √(λ/(λ+FLOOR)) ≤ 0.1; content features have (almost) no energy there anyway.

Modes
-----
* ``exact``: centre, covariance ``/(N−1)`` (:func:`covariance`), ``eigh`` in float64, drop small
  eigenvalues, ZCA whitening ``E Λ^{-1/2} Eᵀ``, colouring ``E_s Λ_s^{1/2} E_sᵀ``, add the style
  mean, ``alpha·out + (1−alpha)·fc``.
* ``ns``: the coupled Newton–Schulz iteration (Higham 2008, eq. 6.35) for Σ^{1/2} and Σ^{-1/2}
  after dividing Σ by its Frobenius norm; matrix products only, fp32, so it exports to plain ONNX.
  Default :data:`NS_ITERS` = 20 iterations, chosen from ``python benchmarks/wct_table.py`` (see
  docs/wct.md): the smallest count at which every measured case reached its fp32 error floor —
  real relu1_1…relu5_1 features of the bundled images (with the ridge) and synthetic covariances
  with condition numbers up to 1e5 and C ≤ 512 (no ridge). Small normalised eigenvalues grow
  2.25× per step, then converge quadratically.
* ``adain``: per-channel mean and standard deviation only (the diagonal special case).
"""
from __future__ import annotations

import torch

from ..core.gram import kernel_ops

#: Default Newton–Schulz iteration count (measured; docs/wct.md "NS iterations vs error").
NS_ITERS = 20
#: Relative ridge added to both covariances (× mean eigenvalue).
DEFAULT_REG = 1e-5
#: Eigenvalues below this are dropped in exact mode (absolute, as in Li et al.'s code).
DROP_EIG = 1e-5
#: Absolute floor of the ridge (see the policy above): 100 × DROP_EIG.
FLOOR = 1e-3
#: Absolute ridge of the NS colouring's inverse root (see the policy above).
COLOR_FLOOR = 1e-4
#: AdaIN epsilon on the variance.
ADAIN_EPS = 1e-5
MODES = ("exact", "ns", "adain")


def _count(f: torch.Tensor) -> torch.Tensor:
    """N (positions) as a tensor, shape B×1×1 or 1×1, so ONNX export keeps it dynamic."""
    return torch.ones_like(f[..., :1, :]).sum(-1, keepdim=True)


def covariance(f: torch.Tensor, reg: float = 0.0, floor: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, covariance) of C×N or B×C×N features: mean C×1, Σ = (f−m)(f−m)ᵀ/(N−1) (+ ridge).

    The single place WCT covariances are computed (the CUDA kernels plug in here). Adds the
    ridge ``(reg · tr(Σ)/C + floor) · I`` of the module docstring (none by default).
    """
    if f.is_cuda:
        ops = kernel_ops()
        if ops is not None and hasattr(ops, "covariance"):
            return ops.covariance(f, reg=reg, floor=floor)
    mean = f.mean(-1, keepdim=True)
    fc = f - mean
    n = _count(f)
    cov = torch.matmul(fc, fc.transpose(-1, -2)) / (n - 1).clamp(min=1)
    if reg or floor:
        cov = cov + ridge(cov, reg, floor) * torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
    return mean, cov


def ridge(cov: torch.Tensor, reg: float, floor: float) -> torch.Tensor:
    """The ridge ``reg · tr(Σ)/C + floor`` (shape …×1×1) for a raw covariance."""
    tr = torch.diagonal(cov, dim1=-2, dim2=-1).sum(-1)[..., None, None]
    return reg * tr / cov.shape[-1] + floor


# ---------------------------------------------------------------------------------------------
# Newton–Schulz
# ---------------------------------------------------------------------------------------------

def ns_sqrt_invsqrt(a: torch.Tensor, iters: int = NS_ITERS) -> tuple[torch.Tensor, torch.Tensor]:
    """Coupled Newton–Schulz: (A^{1/2}, A^{-1/2}) of SPD ``A`` (C×C or B×C×C); products only.

    A is divided by its Frobenius norm s (every eigenvalue then lies in (0, 1]), iterated
    ``T = (3I − Z Y)/2; Y ← Y T; Z ← T Z`` from ``Y = A/s, Z = I``, and rescaled
    (``Y·√s``, ``Z/√s``).
    """
    c = a.shape[-1]
    eye = torch.eye(c, dtype=a.dtype, device=a.device)
    s = torch.sqrt((a * a).sum((-2, -1), keepdim=True)).clamp(min=1e-30)
    y = a / s
    z = eye.expand_as(a)
    for _ in range(int(iters)):
        t = 1.5 * eye - 0.5 * torch.matmul(z, y)
        y = torch.matmul(y, t)
        z = torch.matmul(t, z)
    rs = torch.sqrt(s)
    return y * rs, z / rs


def _eig_power(cov: torch.Tensor, power: float, reg: float, drop: float, floor: float = FLOOR) -> torch.Tensor:
    """(Σ + ridge)^power via eigh (float64) of the *raw* covariance Σ; directions whose raw
    eigenvalue is under `drop` are removed."""
    cov = cov.double()
    vals, vecs = torch.linalg.eigh(cov)
    keep = vals > drop
    v = (vals + ridge(cov, reg, floor)[..., 0]).clamp(min=1e-30)
    p = torch.where(keep, v, torch.ones_like(v)).pow(power) * keep
    return (vecs * p.unsqueeze(-2)) @ vecs.transpose(-1, -2)


def style_stats(fs: torch.Tensor, mode: str = "ns", *, reg: float = DEFAULT_REG, drop: float = DROP_EIG,
                iters: int = NS_ITERS) -> tuple[torch.Tensor, torch.Tensor]:
    """What colouring needs from a style: (mean C×1, colouring matrix C×C ≈ Σs^{1/2}; see the policy).

    For ``adain`` the matrix is diagonal (the per-channel std). Batched inputs give batched outputs.
    """
    mode = _check_mode(mode)
    if mode == "adain":
        mean = fs.mean(-1, keepdim=True)
        std = torch.sqrt(fs.var(-1, keepdim=True, unbiased=True) + ADAIN_EPS)
        return mean, torch.diag_embed(std.squeeze(-1))
    mean, cov = covariance(fs.float())
    if mode == "exact":
        return mean, _eig_power(cov, 0.5, 0.0, drop, floor=0.0).to(torch.float32)
    rcov = cov + ridge(cov, reg, COLOR_FLOOR) * torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
    return mean, torch.matmul(cov, ns_sqrt_invsqrt(rcov, iters)[1])


def whiten(fc: torch.Tensor, mode: str = "ns", *, reg: float = DEFAULT_REG, drop: float = DROP_EIG,
           iters: int = NS_ITERS) -> tuple[torch.Tensor, torch.Tensor]:
    """(whitened centred features, content mean)."""
    mode = _check_mode(mode)
    if mode == "adain":
        mean = fc.mean(-1, keepdim=True)
        std = torch.sqrt(fc.var(-1, keepdim=True, unbiased=True) + ADAIN_EPS)
        return (fc - mean) / std, mean
    if mode == "exact":
        mean, cov = covariance(fc.float())
        w = _eig_power(cov, -0.5, reg, drop)
        return (w @ (fc.float() - mean).double()).float(), mean
    mean, cov = covariance(fc.float(), reg, FLOOR)
    return torch.matmul(ns_sqrt_invsqrt(cov, iters)[1], fc.float() - mean), mean


def color(white: torch.Tensor, mean_s: torch.Tensor, color_s: torch.Tensor) -> torch.Tensor:
    """Colour whitened features with a style's (mean, Σs^{1/2})."""
    if color_s.dtype == torch.float64:
        return (color_s @ white.double()).float() + mean_s
    return torch.matmul(color_s, white) + mean_s


def apply_style_stats(fc: torch.Tensor, mean_s: torch.Tensor, color_s: torch.Tensor, alpha=1.0,
                      mode: str = "ns", **kw) -> torch.Tensor:
    """Whiten `fc` and colour it with precomputed style statistics; blend with `alpha`."""
    white, _ = whiten(fc, mode, **kw)
    out = color(white, mean_s, color_s)
    return alpha * out + (1 - alpha) * fc


def whiten_color(fc: torch.Tensor, fs: torch.Tensor, mode: str = "exact", alpha: float = 1.0, *,
                 reg: float = DEFAULT_REG, drop: float = DROP_EIG, iters: int = NS_ITERS) -> torch.Tensor:
    """Whitening–colouring transform of content features `fc` towards style features `fs`.

    fc: C×Nc, fs: C×Ns (or B×C×N both). Returns ``alpha·WCT(fc, fs) + (1−alpha)·fc`` (fp32).
    ``mode``: ``exact`` (eigh, fp64), ``ns`` (Newton–Schulz, `iters` steps), ``adain``
    (per-channel mean/std). ``reg``: relative ridge on both covariances; ``drop``: eigenvalue
    cut-off of exact mode. See the module docstring for the policy.
    """
    if fc.is_cuda:
        ops = kernel_ops()
        if ops is not None and hasattr(ops, "whiten_color"):
            return ops.whiten_color(fc, fs, alpha=alpha, mode=mode, reg=reg, drop=drop, iters=iters)
    if fc.dim() != fs.dim() or fc.dim() not in (2, 3) or fc.shape[-2] != fs.shape[-2]:
        raise ValueError(f"whiten_color: expected C×N (or B×C×N) features with equal C, got {tuple(fc.shape)} and {tuple(fs.shape)}")
    fc = fc.float()
    mean_s, color_s = style_stats(fs.float(), mode, reg=reg, drop=drop, iters=iters)
    return apply_style_stats(fc, mean_s, color_s, alpha, mode, reg=reg, drop=drop, iters=iters)


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"unknown WCT mode {mode!r}; choose one of {', '.join(MODES)}")
    return mode


# ---------------------------------------------------------------------------------------------
# Masks: region-to-region transfer
# ---------------------------------------------------------------------------------------------

#: Regions with fewer feature positions than this are left untouched (a covariance of a few
#: positions is singular and its whitening meaningless; skipping never produces NaN).
MIN_REGION = 16


def _mask_at(mask: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Integer label map H0×W0 → h×w by nearest sampling, flattened to N."""
    import torch.nn.functional as F

    m = mask.reshape(1, 1, *mask.shape[-2:]).float()
    return F.interpolate(m, size=(h, w), mode="nearest").reshape(-1).long()


def masked_whiten_color(fc: torch.Tensor, fs: torch.Tensor, content_mask: torch.Tensor, style_mask: torch.Tensor,
                        content_hw: tuple[int, int], style_hw: tuple[int, int], mode: str = "exact",
                        alpha: float = 1.0, min_region: int = MIN_REGION, **kw) -> torch.Tensor:
    """WCT per label: content positions with label k take the statistics of style positions with
    label k. Labels present in only one image, or with fewer than `min_region` positions at this
    feature resolution on either side, are skipped (the content features stay as they are).

    fc: C×(h·w) with ``content_hw = (h, w)``; masks are integer label images at any resolution.
    """
    cm = _mask_at(content_mask, *content_hw)
    sm = _mask_at(style_mask, *style_hw)
    out = fc.float().clone()
    for label in torch.unique(cm).tolist():
        ci = (cm == label).nonzero().squeeze(1)
        si = (sm == label).nonzero().squeeze(1)
        if ci.numel() < min_region or si.numel() < min_region:
            continue
        out[:, ci] = whiten_color(fc[:, ci], fs[:, si], mode, alpha, **kw)
    return out
