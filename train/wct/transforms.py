"""Whitening–colouring transforms (WCT, Li et al. 2017), their Newton–Schulz form, and AdaIN.

Features are C×N (or B×C×N) torch tensors: C channels, N = H·W positions.

Regulariser policy (relative to the spectrum; the same in every mode, so modes compare like for like)
-----------------------------------------------------------------------------------------------------
Whitening–colouring is scale-equivariant: WCT(a·fc, a·fs) = a·WCT(fc, fs). The regulariser keeps that:
every ridge is relative to its covariance's mean eigenvalue, ``r = reg · tr(Σ)/C``, with no absolute
floor and no absolute eigenvalue cut-off anywhere (an absolute constant means something else at every
feature scale: the former FLOOR = 1e-3 / COLOR_FLOOR = 1e-4 / drop 1e-5 moved WCT away from the textbook
by 5.8e-2 relative at ×1 and by 9e-5 at ×100).

* Whitening (content): ``W = (Σc + r_c I)^{-1/2}``, ``r_c = reg · tr Σc / C``.
* Colouring (style): ``K = Σs (Σs + r_s I)^{-1/2}``, ``r_s = color_reg · tr Σs / C``: Σs^{1/2}·(1 − r_s/2λ)
  on a direction of eigenvalue λ ≫ r_s, and exactly 0 on the style's null space (the deep levels are
  rank-deficient whenever the style has fewer positions than channels, e.g. relu5_1 of a 128² style:
  64 < 512), as the textbook's drop gives, where ``(Σs + r)^{1/2}`` would put √r on every null direction.
  Both are homogeneous (``W(a²Σ) = W(Σ)/a``, ``K(a²Σ) = a·K(Σ)``), hence the equivariance.
* ``exact`` evaluates these same functions by float64 ``eigh`` (optionally dropping eigenvalues below
  ``drop · λ_max``, relative; none by default), so NS vs exact measures only Newton–Schulz convergence
  and fp32 rounding. :func:`textbook_wct` is Li et al.'s transform as published (no ridge, absolute
  eigenvalue drop), for comparisons.
* ``ns`` computes K as ``(Σs + r_s)^{1/2} − r_s (Σs + r_s)^{-1/2}`` (the same matrix: both roots come out of
  one coupled iteration), which avoids multiplying Σs's fp32 null-space noise by the inverse root's large
  null-space entries (measured 20–50× closer to eigh on rank-deficient styles).

Two settings, both relative (measured; docs/wct.md "Regulariser"):

* :data:`DEFAULT_REG` = 1e-5 for both (the default of :func:`whiten_color`, :func:`whiten`,
  :func:`style_stats`): equivariant to ~1e-6 and within 1e-4 of textbook WCT on full-rank features with
  eigenvalues in [1e-3, 1] at every scale.
* :data:`PIPELINE_REG` = 1e-2 (whitening) and :data:`PIPELINE_COLOR_REG` = 1e-4 (colouring): the
  multi-level pipeline (:class:`~styleforge.train.wct.pipeline.WCTPipeline`) and the exported graphs. Inside
  the coarse-to-fine cascade the content features are those of decoded intermediate images, strongly
  low-rank (at relu3_1 of a 5-level cascade 44 of 256 eigenvalues exceed 1e-3 × the mean); a 1e-5 ridge
  leaves condition numbers ~1e7 there, which fp32 Newton–Schulz (ONNX Runtime and PyTorch alike)
  amplifies into visible differences (ORT vs PyTorch max 36 on [0, 255]); 1e-2 keeps them at 0.25 and
  NS vs exact at mean 0.002, and agrees with textbook WCT on full-rank features to ~4e-2 (the former
  absolute floors: 3e-2 at ×1).

Modes
-----
* ``exact``: centre, covariance ``/(N−1)`` (:func:`covariance`), ``eigh`` in float64, ZCA whitening
  ``E (Λ + r_c)^{-1/2} Eᵀ``, colouring ``E_s Λ_s (Λ_s + r_s)^{-1/2} E_sᵀ``, add the style mean,
  ``alpha·out + (1−alpha)·fc``.
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
#: Relative ridge (× mean eigenvalue) of whitening and of colouring, by default (see the policy above).
DEFAULT_REG = 1e-5
#: The multi-level pipeline's whitening and colouring ridges (relative; see the policy above).
PIPELINE_REG = 1e-2
PIPELINE_COLOR_REG = 1e-4
#: Exact mode: eigenvalues below DROP_EIG × λ_max are dropped (relative; 0: none, the default).
DROP_EIG = 0.0
#: Li et al.'s absolute eigenvalue cut-off, for :func:`textbook_wct` only.
TEXTBOOK_DROP = 1e-5
#: AdaIN epsilon on the variance.
ADAIN_EPS = 1e-5
MODES = ("exact", "ns", "adain")


def _count(f: torch.Tensor) -> torch.Tensor:
    """N (positions) as a tensor, shape B×1×1 or 1×1, so ONNX export keeps it dynamic."""
    return torch.ones_like(f[..., :1, :]).sum(-1, keepdim=True)


def covariance(f: torch.Tensor, reg: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, covariance) of C×N or B×C×N features: mean C×1, Σ = (f−m)(f−m)ᵀ/(N−1) (+ ridge).

    The single place WCT covariances are computed (the CUDA kernels plug in here). Adds the
    relative ridge ``reg · tr(Σ)/C · I`` of the module docstring (none by default).
    """
    if f.is_cuda:
        ops = kernel_ops()
        if ops is not None and hasattr(ops, "covariance"):
            return ops.covariance(f, reg=reg)
    mean = f.mean(-1, keepdim=True)
    fc = f - mean
    n = _count(f)
    cov = torch.matmul(fc, fc.transpose(-1, -2)) / (n - 1).clamp(min=1)
    if reg:
        cov = cov + ridge(cov, reg) * torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
    return mean, cov


def ridge(cov: torch.Tensor, reg: float) -> torch.Tensor:
    """The relative ridge ``reg · tr(Σ)/C`` (shape …×1×1) for a raw covariance: reg × its mean eigenvalue."""
    tr = torch.diagonal(cov, dim1=-2, dim2=-1).sum(-1)[..., None, None]
    return reg * tr / cov.shape[-1]


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


def _eig_fn(cov: torch.Tensor, kind: str, reg: float, drop: float = 0.0) -> torch.Tensor:
    """The regularised matrix functions NS computes, exactly (float64 eigh of the raw covariance Σ):
    ``whiten``: (Σ + r)^{-1/2}; ``color``: Σ (Σ + r)^{-1/2}; r = reg · tr(Σ)/C. Directions whose eigenvalue is
    under ``drop · λ_max`` (relative) are removed."""
    cov = cov.double()
    vals, vecs = torch.linalg.eigh(cov)
    lam = vals.clamp(min=0.0)
    denom = (lam + ridge(cov, reg)[..., 0]).clamp(min=torch.finfo(torch.float64).tiny)
    p = denom.rsqrt() if kind == "whiten" else lam * denom.rsqrt()
    if drop:
        p = torch.where(lam > drop * lam.amax(-1, keepdim=True), p, torch.zeros_like(p))
    return (vecs * p.unsqueeze(-2)) @ vecs.transpose(-1, -2)


def style_stats(fs: torch.Tensor, mode: str = "ns", *, reg: float = DEFAULT_REG, drop: float = DROP_EIG,
                iters: int = NS_ITERS) -> tuple[torch.Tensor, torch.Tensor]:
    """What colouring needs from a style: (mean C×1, colouring matrix C×C = Σs (Σs + r)^{-1/2}, r = reg · tr Σs/C;
    see the policy). For ``adain`` the matrix is diagonal (the per-channel std). Batched inputs give batched outputs.
    """
    mode = _check_mode(mode)
    if mode == "adain":
        mean = fs.mean(-1, keepdim=True)
        std = torch.sqrt(fs.var(-1, keepdim=True, unbiased=True) + ADAIN_EPS)
        return mean, torch.diag_embed(std.squeeze(-1))
    mean, cov = covariance(fs.float())
    if mode == "exact":
        return mean, _eig_fn(cov, "color", reg, drop).to(torch.float32)
    r = ridge(cov, reg)
    y, z = ns_sqrt_invsqrt(cov + r * torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device), iters)
    return mean, y - r * z  # = Σs (Σs + r)^{-1/2}, without Σs's fp32 null-space noise times Z's large entries


def whiten(fc: torch.Tensor, mode: str = "ns", *, reg: float = DEFAULT_REG, drop: float = DROP_EIG,
           iters: int = NS_ITERS) -> tuple[torch.Tensor, torch.Tensor]:
    """(whitened centred features (Σc + r)^{-1/2}(fc − μc), content mean μc); r = reg · tr Σc/C."""
    mode = _check_mode(mode)
    if mode == "adain":
        mean = fc.mean(-1, keepdim=True)
        std = torch.sqrt(fc.var(-1, keepdim=True, unbiased=True) + ADAIN_EPS)
        return (fc - mean) / std, mean
    if mode == "exact":
        mean, cov = covariance(fc.float())
        w = _eig_fn(cov, "whiten", reg, drop)
        return (w @ (fc.float() - mean).double()).float(), mean
    mean, cov = covariance(fc.float(), reg)
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
                 reg: float = DEFAULT_REG, color_reg: float | None = None, drop: float = DROP_EIG,
                 iters: int = NS_ITERS) -> torch.Tensor:
    """Whitening–colouring transform of content features `fc` towards style features `fs`.

    fc: C×Nc, fs: C×Ns (or B×C×N both). Returns ``alpha·WCT(fc, fs) + (1−alpha)·fc`` (fp32).
    ``mode``: ``exact`` (eigh, fp64), ``ns`` (Newton–Schulz, `iters` steps), ``adain``
    (per-channel mean/std). ``reg``: relative ridge of the whitening, ``color_reg`` of the colouring
    (default: ``reg``); ``drop``: relative eigenvalue cut-off of exact mode. See the module docstring.
    """
    color_reg = reg if color_reg is None else color_reg
    if fc.is_cuda:
        ops = kernel_ops()
        if ops is not None and hasattr(ops, "whiten_color"):
            return ops.whiten_color(fc, fs, alpha=alpha, mode=mode, reg=reg, color_reg=color_reg, drop=drop,
                                    iters=iters)
    if fc.dim() != fs.dim() or fc.dim() not in (2, 3) or fc.shape[-2] != fs.shape[-2]:
        raise ValueError(f"whiten_color: expected C×N (or B×C×N) features with equal C, got {tuple(fc.shape)} and {tuple(fs.shape)}")
    fc = fc.float()
    mean_s, color_s = style_stats(fs.float(), mode, reg=color_reg, drop=drop, iters=iters)
    return apply_style_stats(fc, mean_s, color_s, alpha, mode, reg=reg, drop=drop, iters=iters)


def textbook_wct(fc: torch.Tensor, fs: torch.Tensor, alpha: float = 1.0, drop: float = TEXTBOOK_DROP) -> torch.Tensor:
    """Li et al. 2017's WCT as published, for reference: float64 eigh, eigenvalues below `drop` (absolute) removed,
    no ridge. C×N (or B×C×N) features; float64 out. Not scale-equivariant (the absolute cut-off)."""
    fc64, fs64 = fc.double(), fs.double()
    mc, ms = fc64.mean(-1, keepdim=True), fs64.mean(-1, keepdim=True)
    out = []
    for c, s_, m in zip(*(t.reshape(-1, *t.shape[-2:]) for t in (fc64 - mc, fs64 - ms, ms))):
        wc, vc = torch.linalg.eigh(c @ c.T / max(1, c.shape[-1] - 1))
        ws, vs = torch.linalg.eigh(s_ @ s_.T / max(1, s_.shape[-1] - 1))
        kc, ks = wc > drop, ws > drop
        white = (vc[:, kc] * wc[kc].rsqrt()) @ vc[:, kc].T @ c
        out.append((vs[:, ks] * ws[ks].sqrt()) @ vs[:, ks].T @ white + m)
    return alpha * torch.stack(out).reshape(fc.shape) + (1 - alpha) * fc64


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
