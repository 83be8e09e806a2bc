"""PyTorch bindings of the StyleForge CUDA kernels: ``torch.library`` custom ops (namespace
``styleforge``) with autograd for the Gram matrix and the style loss.

train/core/gram.py and train/wct/transforms.py call these for CUDA tensors when :func:`enabled` is true;
CPU tensors, unsupported dtypes/shapes and anything needing a gradient the kernels do not provide
take the PyTorch reference path. One switch turns the kernels off: :func:`set_enabled(False)` or the
environment variable ``STYLEFORGE_KERNELS=0``. If the kernels cannot be compiled or loaded (no
cuda-python, no NVRTC/nvcc), the first failure is reported once as a warning and the kernels switch
themselves off.
"""
import os
import warnings

import torch
from torch import Tensor

from . import loader, ops

_enabled = True
_broken: str | None = None


def _cuda_python() -> bool:
    try:
        loader._bindings()
        return True
    except loader.KernelError:
        return False


def enabled() -> bool:
    """True when the kernels are switched on (set_enabled, STYLEFORGE_KERNELS) and usable here."""
    if not _enabled or _broken is not None:
        return False
    if os.environ.get("STYLEFORGE_KERNELS", "1").strip().lower() in ("0", "false", "off", "no"):
        return False
    return _cuda_python()


def set_enabled(flag: bool) -> None:
    """Switch the kernels on or off (for comparison runs); also clears a previous load failure."""
    global _enabled, _broken
    _enabled = bool(flag)
    _broken = None


def _disable(err: Exception) -> None:
    global _broken
    _broken = str(err)
    warnings.warn(f"styleforge kernels disabled, using the PyTorch reference path: {err}", RuntimeWarning, stacklevel=3)


def _stream(t: Tensor) -> int:
    return torch.cuda.current_stream(t.device).cuda_stream


def _usable(x: Tensor) -> bool:
    dt = str(x.dtype).replace("torch.", "")
    return x.is_cuda and ops.supported(dt, x.shape[-1], x.data_ptr()) and x.is_contiguous() and x.numel() > 0


def _dtype(x: Tensor) -> str:
    return str(x.dtype).replace("torch.", "")


def _precision() -> str:
    return os.environ.get("STYLEFORGE_KERNELS_PRECISION", "3xtf32")


def _kernel_backward() -> bool:
    """dL/dF through sf_apply_* (STYLEFORGE_KERNELS_BACKWARD=kernel) or cuBLAS bmm (default): the GPU check
    measured the style loss fwd+bwd with the apply kernel at 0.67x the eager reference (docs/kernels.md)."""
    return os.environ.get("STYLEFORGE_KERNELS_BACKWARD", "bmm").strip().lower() == "kernel"


# ------------------------------------------------------------------------------------------ covariance / gram
def _cov_cuda(x: Tensor, centre: bool, scale: float, precision: str | None = None, splits: int | None = None):
    b, c, n = x.shape
    with torch.cuda.device(x.device):
        sms = torch.cuda.get_device_properties(x.device).multi_processor_count
        plan = ops.covariance_plan(b, c, n, _dtype(x), scale=scale, precision=precision or _precision(), num_sms=sms,
                                   splits=splits)
        out = torch.empty((b, c, c), device=x.device, dtype=torch.float32)
        mean = torch.empty((b, c), device=x.device, dtype=torch.float32)
        ws = torch.empty((plan.ws_floats,), device=x.device, dtype=torch.float32)
        ops.covariance(x, out, ws, B=b, C=c, N=n, dtype=_dtype(x), centre=centre, scale=scale, mean=mean,
                       stream=_stream(x), device=x.device.index, plan=plan)
    return out, mean


def _cov_ref(x: Tensor, centre: bool, scale: float):
    xf = x if x.dtype == torch.float64 else x.float()
    mu = xf.mean(-1, keepdim=True)
    xc = xf - mu if centre else xf
    return torch.bmm(xc, xc.transpose(1, 2)) * scale, mu.squeeze(-1)


@torch.library.custom_op("styleforge::covariance", mutates_args=())
def covariance_op(x: Tensor, centre: bool, scale: float) -> tuple[Tensor, Tensor]:
    """B×C×N → (B×C×C fp32 scale·(x−μ)(x−μ)ᵀ, B×C fp32 μ)."""
    if x.is_cuda:
        return _cov_cuda(x.contiguous(), centre, scale)
    return _cov_ref(x, centre, scale)


@covariance_op.register_fake
def _(x, centre, scale):
    b, c, _ = x.shape
    return x.new_empty((b, c, c), dtype=torch.float32), x.new_empty((b, c), dtype=torch.float32)


def _apply_cuda(A: Tensor, X: Tensor, *, scale: float = 1.0, scale_t: Tensor | None = None, bias=None,
                blend: float = 1.0, prefix: str = "sf_apply") -> Tensor:
    b, c, n = X.shape
    Y = torch.empty_like(X)
    with torch.cuda.device(X.device):
        ops.apply_matrix(A, X, Y, B=b, C=c, N=n, dtype=_dtype(X), a_bstride=0 if A.shape[0] == 1 and b > 1 else c * c,
                         bias=bias, scale_ptr=scale_t, scale=scale, blend=blend, stream=_stream(X),
                         kernel_prefix=prefix, device=X.device.index)
    return Y


@torch.library.custom_op("styleforge::gram", mutates_args=())
def gram_op(f: Tensor) -> Tensor:
    """B×C×N → B×C×C fp32 Gram matrix F Fᵀ / (C·N)."""
    b, c, n = f.shape
    if f.is_cuda:
        return _cov_cuda(f.contiguous(), False, 1.0 / (c * n))[0]
    return _cov_ref(f, False, 1.0 / (c * n))[0]


@gram_op.register_fake
def _(f):
    b, c, _ = f.shape
    return f.new_empty((b, c, c), dtype=torch.float32)


@torch.library.custom_op("styleforge::gram_backward", mutates_args=())
def gram_backward_op(grad: Tensor, f: Tensor) -> Tensor:
    """dL/dF = (dG + dGᵀ) F / (C·N), in F's dtype."""
    b, c, n = f.shape
    sym = (grad + grad.transpose(1, 2)).float().contiguous()
    if f.is_cuda and _kernel_backward():
        return _apply_cuda(sym, f.contiguous(), scale=1.0 / (c * n))
    ff = f if f.dtype == torch.float64 else f.float()
    return (torch.bmm(sym.to(ff.dtype), ff) / (c * n)).to(f.dtype)


@gram_backward_op.register_fake
def _(grad, f):
    return torch.empty_like(f)


def _gram_setup(ctx, inputs, output):
    ctx.save_for_backward(inputs[0])


def _gram_backward(ctx, grad):
    (f,) = ctx.saved_tensors
    return gram_backward_op(grad.contiguous(), f)


gram_op.register_autograd(_gram_backward, setup_context=_gram_setup)


# ------------------------------------------------------------------------------------------ style loss
@torch.library.custom_op("styleforge::style_loss_layer", mutates_args=())
def style_loss_layer_op(f: Tensor, target: Tensor, weight: float) -> tuple[Tensor, Tensor]:
    """(w · mean((G(F) − G*)²) as a 0-d fp32 tensor, D = G(F) − (G* + G*ᵀ)/2  B×C×C fp32: the symmetric
    part of the difference, which is what dL/dF needs)."""
    b, c, n = f.shape
    t = target.float().reshape(-1, c, c).contiguous()
    if f.is_cuda:
        g = _cov_cuda(f.contiguous(), False, 1.0 / (c * n))[0]
        d = torch.empty_like(g)
        loss = torch.zeros((), device=f.device, dtype=torch.float32)
        with torch.cuda.device(f.device):
            ops.style_diff(g, t, d, loss, B=b, C=c, weight=weight, t_batch=t.shape[0], stream=_stream(f),
                           device=f.device.index)
        return loss, d
    g = _cov_ref(f, False, 1.0 / (c * n))[0]
    d = g - target.reshape(-1, c, c).to(g.dtype).expand_as(g)
    return weight * torch.mean(d * d), 0.5 * (d + d.transpose(1, 2))


@style_loss_layer_op.register_fake
def _(f, target, weight):
    b, c, _ = f.shape
    return f.new_empty((), dtype=torch.float32), f.new_empty((b, c, c), dtype=torch.float32)


@torch.library.custom_op("styleforge::style_loss_backward", mutates_args=())
def style_loss_backward_op(grad_loss: Tensor, d: Tensor, f: Tensor, weight: float) -> Tensor:
    """dL/dF = g · 4 w / (B·C²) / (C·N) · D F, g read on the device (no host sync)."""
    b, c, n = f.shape
    coef = 4.0 * weight / (b * c * c) / (c * n)
    if f.is_cuda and _kernel_backward():
        g = grad_loss.float().reshape(1).contiguous()
        return _apply_cuda(d.contiguous(), f.contiguous(), scale=coef, scale_t=g)
    ff = f if f.dtype == torch.float64 else f.float()
    return (grad_loss.to(ff.dtype) * coef * torch.bmm(d.to(ff.dtype), ff)).to(f.dtype)


@style_loss_backward_op.register_fake
def _(grad_loss, d, f, weight):
    return torch.empty_like(f)


def _sl_setup(ctx, inputs, output):
    f, _, weight = inputs
    ctx.weight = weight
    ctx.save_for_backward(f, output[1])


def _sl_backward(ctx, grad_loss, grad_d):
    f, d = ctx.saved_tensors
    if grad_loss is None:
        return None, None, None
    return style_loss_backward_op(grad_loss, d, f, ctx.weight), None, None


style_loss_layer_op.register_autograd(_sl_backward, setup_context=_sl_setup)


# ------------------------------------------------------------------------------------------ WCT
@torch.library.custom_op("styleforge::whiten_color", mutates_args=())
def whiten_color_op(fc: Tensor, fs: Tensor, alpha: float, reg: float, color_reg: float, iters: int) -> Tensor:
    """B×C×Nc content, B×C×Ns (or 1×C×Ns) style → B×C×Nc fp32 (coupled Newton–Schulz; the policy of
    train/wct/transforms.py: relative ridges, whitening (Σc + reg·trΣc/C)^{-1/2}, colouring
    Σs (Σs + color_reg·trΣs/C)^{-1/2})."""
    bc, c, nc = fc.shape
    bs, _, ns = fs.shape
    if not fc.is_cuda:
        from .reference import whiten_color_np

        out = whiten_color_np(fc.double().numpy(), fs.double().numpy(), alpha=alpha, reg=reg, color_reg=color_reg,
                              iters=iters)
        return torch.from_numpy(out).float()
    fc = fc.float().contiguous()
    fs = fs.float().contiguous()
    out = torch.empty_like(fc)
    sizes = ops.WctWorkspace.sizes(bc, bs, c, nc, ns, num_sms=torch.cuda.get_device_properties(fc.device).multi_processor_count)
    work = torch.empty((sizes.total(),), device=fc.device, dtype=torch.float32)
    with torch.cuda.device(fc.device):
        ops.whiten_color(fc, fs, out, work, Bc=bc, Bs=bs, C=c, Nc=nc, Ns=ns, alpha=alpha, reg=reg, color_reg=color_reg,
                         iters=iters, stream=_stream(fc), device=fc.device.index)
    return out


@whiten_color_op.register_fake
def _(fc, fs, alpha, reg, color_reg, iters):
    return torch.empty_like(fc, dtype=torch.float32)


# ------------------------------------------------------------------------------------------ public API
def _as_bcn(x: Tensor) -> Tensor:
    if x.dim() == 4:
        return x.reshape(x.shape[0], x.shape[1], -1)
    if x.dim() == 3:
        return x
    raise ValueError(f"expected B×C×H×W or B×C×N features, got shape {tuple(x.shape)}")


def _guard(fn, fallback):
    try:
        return fn()
    except loader.KernelError as e:
        _disable(e)
        return fallback()


def gram(features: Tensor) -> Tensor:
    """Gram matrix ``F Fᵀ / (C·N)`` (B×C×C fp32) with autograd; the fused kernel for CUDA tensors."""
    f = _as_bcn(features)
    if not (enabled() and _usable(f)):
        return _cov_ref(f, False, 1.0 / (f.shape[1] * f.shape[2]))[0]
    return _guard(lambda: gram_op(f), lambda: _cov_ref(f, False, 1.0 / (f.shape[1] * f.shape[2]))[0])


def style_loss(feats, targets, weights) -> Tensor:
    """Σ_l w_l · mean((G(F_l) − G*_l)²): fused forward (Gram, difference, reduction on the device)
    and a fused dL/dF backward per layer. Targets: C×C, 1×C×C or B×C×C (no gradient to targets)."""
    total = None
    for f, t, w in zip(feats, targets, weights):
        f3 = _as_bcn(f)
        c = f3.shape[1]
        if enabled() and _usable(f3) and not t.requires_grad:
            loss = _guard(lambda: style_loss_layer_op(f3, t.reshape(-1, c, c), float(w))[0], lambda: None)
        else:
            loss = None
        if loss is None:
            g = _cov_ref(f3, False, 1.0 / (c * f3.shape[2]))[0]
            loss = float(w) * torch.mean((g - t.float().reshape(-1, c, c).expand_as(g)) ** 2)
        total = loss if total is None else total + loss
    if total is None:
        return torch.zeros(())
    return total


def covariance(f: Tensor, reg: float = 0.0, *, centre: bool = True, scale="n-1") -> tuple[Tensor, Tensor]:
    """(mean, covariance) like train/wct/transforms.covariance: mean C×1 (B×C×1), Σ = (f−μ)(f−μ)ᵀ/(N−1)
    plus the relative ridge ``reg·tr(Σ)/C·I``. C×N or B×C×N input; fp32 out."""
    squeeze = f.dim() == 2
    x = f.unsqueeze(0) if squeeze else f
    b, c, n = x.shape
    s = ops.scale_value(scale, c, n)
    if enabled() and _usable(x) and not (torch.is_grad_enabled() and x.requires_grad):
        cov, mean = _guard(lambda: covariance_op(x, centre, s), lambda: _cov_ref(x, centre, s))
    else:
        cov, mean = _cov_ref(x, centre, s)
    if reg:
        tr = torch.diagonal(cov, dim1=-2, dim2=-1).sum(-1)[..., None, None]
        cov = cov + (reg * tr / c) * torch.eye(c, dtype=cov.dtype, device=cov.device)
    mean = mean.unsqueeze(-1)
    return (mean[0], cov[0]) if squeeze else (mean, cov)


def whiten_color(fc: Tensor, fs: Tensor, alpha: float = 1.0, mode: str = "ns", *, reg: float = 1e-5,
                 color_reg: float | None = None, drop: float = 0.0, iters: int = 20) -> Tensor:
    """WCT of content features towards style features (fp32 out, fc's shape). ``mode="ns"`` runs the
    fused Newton–Schulz kernels on CUDA; other modes (``exact``, ``adain``), CPU tensors and inputs
    that need gradients take train/wct/transforms.py's reference path."""
    ok = (mode == "ns" and fc.is_cuda and fs.is_cuda and fc.dim() == fs.dim() and fc.dim() in (2, 3)
          and fc.shape[-2] == fs.shape[-2] and enabled()
          and not (torch.is_grad_enabled() and (fc.requires_grad or fs.requires_grad)))
    if ok and fc.dim() == 3 and fs.shape[0] not in (1, fc.shape[0]):
        ok = False
    if ok and not (ops.supported("float32", fc.shape[-1]) and ops.supported("float32", fs.shape[-1])):
        ok = False  # rows must be 16-byte aligned in fp32
    if ok and min(fc.shape[-1], fs.shape[-1]) < fc.shape[-2]:
        ok = False  # N < C (rank-deficient covariance): known NaN in the kernel's NS at fp32 (docs/kernels.md)
    color_reg = reg if color_reg is None else color_reg
    if not ok:
        return _wct_reference(fc, fs, alpha, mode, reg, color_reg, drop, iters)
    squeeze = fc.dim() == 2
    a, b = (fc.unsqueeze(0), fs.unsqueeze(0)) if squeeze else (fc, fs)
    out = _guard(lambda: whiten_color_op(a, b, float(alpha), float(reg), float(color_reg), int(iters)), lambda: None)
    if out is None:
        return _wct_reference(fc, fs, alpha, mode, reg, color_reg, drop, iters)
    return out[0] if squeeze else out


def _wct_reference(fc, fs, alpha, mode, reg, color_reg, drop, iters):
    from ..train.wct import transforms as W

    fc32 = fc.float()
    mean_s, color_s = W.style_stats(fs.float(), mode, reg=color_reg, drop=drop, iters=iters)
    return W.apply_style_stats(fc32, mean_s, color_s, alpha, mode, reg=reg, drop=drop, iters=iters)
