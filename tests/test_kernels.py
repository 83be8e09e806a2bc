"""styleforge.kernels: references, loader logic without a device, nvcc compilation of every .cu,
and (marked gpu, skipped without CUDA) each kernel against its float64 reference on VGG shapes."""
from __future__ import annotations

import ctypes
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from styleforge.kernels import loader, ops, reference

KDIR = Path(loader.KERNEL_DIR)


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


# ------------------------------------------------------------------------------------ import hygiene
def test_import_needs_no_torch_or_cuda():
    code = ("import sys, styleforge.kernels, styleforge.kernels.loader, styleforge.kernels.ops, "
            "styleforge.kernels.reference, styleforge.kernels.trt_plugin, styleforge.kernels.trt_onnx_support\n"
            "bad = [m for m in ('torch', 'cuda', 'cuda.bindings', 'tensorrt', 'cupy') if m in sys.modules]\n"
            "assert not bad, bad\nprint('ok')")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr


# ------------------------------------------------------------------------------------ references
def test_references_agree_numpy_vs_torch():
    import torch

    rng = np.random.default_rng(0)
    x = np.maximum(rng.standard_normal((2, 16, 200)), 0) + 0.3
    cov, mu = reference.covariance_np(x)
    tcov, tmu = reference.covariance_torch(torch.from_numpy(x))
    assert _rel(cov, tcov.numpy()) < 1e-12 and _rel(mu, tmu.numpy()) < 1e-12
    assert _rel(cov[0], np.cov(x[0])) < 1e-12
    g = reference.gram_np(x)
    assert _rel(g, reference.gram_torch(torch.from_numpy(x)).numpy()) < 1e-12
    # the style-loss gradient formula vs autograd through the torch reference
    t = [reference.gram_np(np.maximum(rng.standard_normal((1, 16, 200)), 0))]
    loss, grads = reference.style_loss_np([x], t, [3.0])
    f = torch.from_numpy(x).requires_grad_()
    tl = 3.0 * torch.mean((reference.gram_torch(f) - torch.from_numpy(t[0])) ** 2)
    tl.backward()
    assert abs(loss - float(tl.detach())) < 1e-12 * max(1.0, loss)
    assert _rel(grads[0], f.grad.numpy()) < 1e-10


def test_wct_references_ns_vs_eigh_and_train_module():
    import torch

    from styleforge.train.wct import transforms as W

    rng = np.random.default_rng(1)
    fc = np.maximum(rng.standard_normal((1, 12, 300)), 0)
    fs = 2 * np.maximum(rng.standard_normal((1, 12, 250)), 0) + 0.5
    exact = reference.whiten_color_np(fc, fs, alpha=0.7, iters=None)
    ns = reference.whiten_color_np(fc, fs, alpha=0.7, iters=20)
    assert _rel(ns, exact) < 1e-4
    # the train-side NS (the op the kernels replace) computes the same function (its policy's constants), in
    # both settings: the default (1e-5 for both ridges) and the pipeline's (whitening 1e-2, colouring 1e-4)
    assert (W.DEFAULT_REG, W.PIPELINE_REG, W.PIPELINE_COLOR_REG, W.NS_ITERS) == (1e-5, 1e-2, 1e-4, 20)
    assert not hasattr(W, "FLOOR") and not hasattr(W, "COLOR_FLOOR")   # no absolute constant left (issue 14 #8)
    tr = W.whiten_color(torch.from_numpy(fc[0]).double(), torch.from_numpy(fs[0]).double(), "ns", 0.7)
    assert _rel(tr.numpy(), ns[0]) < 3e-3  # the train module works in fp32
    pipe_ref = reference.whiten_color_np(fc, fs, alpha=0.7, reg=W.PIPELINE_REG, color_reg=W.PIPELINE_COLOR_REG, iters=20)
    pipe_tr = W.whiten_color(torch.from_numpy(fc[0]).double(), torch.from_numpy(fs[0]).double(), "ns", 0.7,
                             reg=W.PIPELINE_REG, color_reg=W.PIPELINE_COLOR_REG)
    assert _rel(pipe_tr.numpy(), pipe_ref[0]) < 3e-3 and _rel(pipe_ref, ns) > 1e-3   # another function, computed alike
    pipe_exact = W.whiten_color(torch.from_numpy(fc[0]).double(), torch.from_numpy(fs[0]).double(), "exact", 0.7,
                                reg=W.PIPELINE_REG, color_reg=W.PIPELINE_COLOR_REG)
    assert _rel(pipe_exact.numpy(), reference.whiten_color_np(fc, fs, alpha=0.7, reg=W.PIPELINE_REG,
                                                              color_reg=W.PIPELINE_COLOR_REG, iters=None)[0]) < 1e-5
    # the torch eigh baseline of the benchmark, in float64, matches too
    te = reference.wct_eigh_torch(torch.from_numpy(fc), torch.from_numpy(fs), alpha=0.7)
    assert _rel(te.numpy(), exact) < 1e-10
    # and the kernel's colouring identity Σs (Σs + r)^{-1/2} = (Σs + r)^{1/2} - r (Σs + r)^{-1/2}
    cs = reference.covariance_np(fs)[0][0]
    r = float(np.squeeze(reference.ridge_np(cs, 1e-4)))
    a = cs + r * np.eye(12)
    y, z = reference.ns_sqrt_invsqrt_np(a, 20)
    assert _rel(y - r * z, cs @ reference._sym_pow(a, -0.5)) < 1e-6


def test_torch_ops_cpu_path_and_switch(monkeypatch):
    import torch

    from styleforge.kernels import torch_ops
    from styleforge.train.core import gram as gram_mod

    x = torch.randn(2, 8, 6, 5)
    assert torch.allclose(torch_ops.gram(x), gram_mod.gram_matrix_reference(x))
    assert torch.allclose(torch.ops.styleforge.gram(x.reshape(2, 8, 30)), gram_mod.gram_matrix_reference(x))
    # autograd through the custom op on CPU matches the reference gradient
    f1 = x.reshape(2, 8, 30).clone().requires_grad_()
    f2 = f1.detach().clone().requires_grad_()
    (torch.ops.styleforge.gram(f1) ** 2).sum().backward()
    (gram_mod.gram_matrix_reference(f2) ** 2).sum().backward()
    assert torch.allclose(f1.grad, f2.grad)
    tgt = torch.rand(1, 8, 8)
    f3 = f1.detach().clone().requires_grad_()
    loss, d = torch.ops.styleforge.style_loss_layer(f3, tgt, 2.5)
    loss.backward()
    f4 = f1.detach().clone().requires_grad_()
    ref = 2.5 * torch.mean((gram_mod.gram_matrix_reference(f4) - tgt) ** 2)
    ref.backward()
    assert abs(float(loss.detach()) - float(ref.detach())) < 1e-6 * float(ref.detach()) and torch.allclose(f3.grad, f4.grad)
    mean, cov = torch_ops.covariance(x.reshape(2, 8, 30)[0].float(), reg=1e-4)
    from styleforge.train.wct.transforms import covariance as wcov
    m2, c2 = wcov(x.reshape(2, 8, 30)[0].float(), 1e-4)
    assert mean.shape == m2.shape and torch.allclose(cov, c2, atol=1e-6)
    monkeypatch.setenv("STYLEFORGE_KERNELS", "0")
    assert not torch_ops.enabled() and gram_mod.kernel_ops() is None
    monkeypatch.delenv("STYLEFORGE_KERNELS")
    torch_ops.set_enabled(False)
    assert not torch_ops.enabled()
    torch_ops.set_enabled(True)


# ------------------------------------------------------------------------------------ loader logic
def test_cache_key_and_dir(monkeypatch, tmp_path):
    k = loader.cache_key("covariance.cu", "sm_90", "nvrtc", "13.0")
    assert k == loader.cache_key("covariance.cu", "sm_90", "nvrtc", "13.0")
    others = {loader.cache_key("covariance.cu", "sm_80", "nvrtc", "13.0"),
              loader.cache_key("covariance.cu", "sm_90", "nvcc", "13.0"),
              loader.cache_key("covariance.cu", "sm_90", "nvrtc", "13.1"),
              loader.cache_key("wct.cu", "sm_90", "nvrtc", "13.0")}
    assert k not in others and len(others) == 4
    monkeypatch.setenv("STYLEFORGE_KERNEL_CACHE", str(tmp_path / "kc"))
    p = loader.cache_path("wct.cu", "sm_90", "nvcc", "13.0.88")
    assert p.parent == tmp_path / "kc" and p.name.startswith("wct-sm_90-") and p.suffix == ".cubin"
    monkeypatch.delenv("STYLEFORGE_KERNEL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert loader.cache_dir() == tmp_path / "xdg" / "styleforge" / "kernels"
    # a header edit changes every key (headers are hashed with the source)
    d1 = loader.source_digest("covariance.cu")
    monkeypatch.setattr(loader, "HEADERS", loader.HEADERS + ("covariance.cu",))
    assert loader.source_digest("covariance.cu") != d1


def test_cached_cubin_is_used_without_compiling(monkeypatch, tmp_path):
    monkeypatch.setenv("STYLEFORGE_KERNEL_CACHE", str(tmp_path))
    monkeypatch.setattr(loader, "find_nvcc", lambda: "/fake/nvcc")
    monkeypatch.setattr(loader, "nvcc_version", lambda nvcc: "99.9")
    path = loader.cache_path("wct.cu", "sm_90", "nvcc", "99.9")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"CUBIN")

    def boom(*a, **k):
        raise AssertionError("compiled despite a cache hit")

    monkeypatch.setattr(loader, "compile_nvcc", boom)
    data, p = loader.build("wct.cu", "sm_90", "nvcc")
    assert data == b"CUBIN" and p == path
    with pytest.raises(loader.KernelError, match="unknown compiler"):
        loader.build("wct.cu", "sm_90", "clang")


class _CAI:
    def __init__(self, ptr, shape=(2, 3), typestr="<f4", strides=None):
        self.__cuda_array_interface__ = {"data": (ptr, False), "shape": shape, "typestr": typestr,
                                         "strides": strides, "version": 3}


def test_pointer_and_stream_marshalling():
    import torch

    assert loader.device_pointer(None) == 0
    assert loader.device_pointer(0x7F0000001000) == 0x7F0000001000
    assert loader.device_pointer(_CAI(4096)) == 4096
    assert loader.device_pointer(np.uint64(8192)) == 8192

    class PyCudaLike:  # pycuda.driver.DeviceAllocation converts with int()
        def __int__(self):
            return 12288

    class CupyMemPtr:
        ptr = 16384

    assert loader.device_pointer(PyCudaLike()) == 12288 and loader.device_pointer(CupyMemPtr()) == 16384
    with pytest.raises(ValueError, match="CPU torch tensor"):
        loader.device_pointer(torch.zeros(2))
    with pytest.raises(TypeError):
        loader.device_pointer(True)
    with pytest.raises(ValueError):
        loader.device_pointer(-5)
    ptr, shape, dt, strides = loader.array_info(_CAI(256, (4, 5), "<f2", (10, 2)))
    assert (ptr, shape, dt, strides) == (256, (4, 5), "float16", None)
    assert loader.array_info(_CAI(256, (4, 5), "<f4", (4, 16)))[3] == (1, 4)

    class TorchStream:
        cuda_stream = 77

    class CoreStream:
        def __cuda_stream__(self):
            return (0, 99)

    assert loader.stream_handle(None) == 0 and loader.stream_handle(5) == 5
    assert loader.stream_handle(TorchStream()) == 77 and loader.stream_handle(CoreStream()) == 99


def test_kernel_lookup_cached_per_device(monkeypatch):
    calls = []
    monkeypatch.setattr(loader, "_kernel_cache", {})
    monkeypatch.setattr(loader, "_find_kernel", lambda name, dev: calls.append((name, dev)) or object())
    a = loader.get_kernel("sf_zero_f32", 0)
    assert loader.get_kernel("sf_zero_f32", 0) is a and calls == [("sf_zero_f32", 0)]
    loader.get_kernel("sf_zero_f32", 1)
    loader.get_kernel("sf_zero_f32")  # no ordinal: always asks the current context
    loader.get_kernel("sf_zero_f32")
    assert calls[1:] == [("sf_zero_f32", 1), ("sf_zero_f32", None), ("sf_zero_f32", None)]


def test_pack_args_layout():
    arr, keep = loader.pack_args("pifq", [_CAI(0xABC0), 7, 0.5, 1 << 40])
    vals = [ctypes.cast(arr[i], ctypes.POINTER(t)).contents.value
            for i, t in enumerate([ctypes.c_uint64, ctypes.c_int32, ctypes.c_float, ctypes.c_int64])]
    assert vals == [0xABC0, 7, 0.5, 1 << 40]
    with pytest.raises(loader.KernelError, match="takes 2 arguments"):
        loader.pack_args("pi", [1])
    with pytest.raises(TypeError):
        loader.pack_args("i", [1.5])


_CODES = [(re.compile(r"\*"), "p"), (re.compile(r"\blong long\b"), "q"), (re.compile(r"\bint\b"), "i"),
          (re.compile(r"\bfloat\b"), "f")]


def _code(param: str) -> str:
    for rx, c in _CODES:
        if rx.search(param):
            return c
    raise AssertionError(f"unknown parameter type: {param}")


def test_signatures_match_kernel_sources():
    """Every extern "C" kernel has a SIGNATURES entry equal to its declared parameter list."""
    macros = {}
    for h in ("covariance.cu", *loader.HEADERS):
        for m in re.finditer(r"#define (SF_\w+)\(NAME, [^)]*\)((?:.*\\\n)+.*)", (KDIR / h).read_text()):
            body = m.group(2).replace("\\\n", " ")
            params = re.search(r"NAME\(([^)]*)\)", body).group(1)
            macros[m.group(1)] = "".join(_code(p) for p in params.split(","))
    seen = set()
    for src in loader.SOURCES:
        text = (KDIR / src).read_text()
        for name in loader.kernel_names(src):
            m = re.search(rf"^(SF_\w+)\({name},", text, flags=re.M)
            if m:
                sig = macros[m.group(1)]
            else:
                params = re.search(rf"__global__ void(?:\s+__launch_bounds__\([^)]*\))?\s+{name}\s*\(([^)]*)\)", text).group(1)
                sig = "".join(_code(p) for p in params.split(","))
            assert loader.SIGNATURES[name] == sig, name
            seen.add(name)
    assert seen == set(loader.SIGNATURES)


def test_covariance_plans():
    for b, c, n, dt in [(1, 64, 512 * 512, "float32"), (4, 128, 65536, "float16"), (1, 512, 1024, "float32"),
                        (2, 3, 40, "bfloat16"), (1, 256, 16384, "float32")]:
        p = ops.covariance_plan(b, c, n, dt)
        assert p.splits * p.chunk >= n > (p.splits - 1) * p.chunk
        assert p.smem <= 227 * 1024 and p.nt * p.bm >= c
        assert p.tiles == p.nt * (p.nt + 1) // 2
    # split-N gives C = 512, N = 1024 enough blocks to fill 132 SMs
    p = ops.covariance_plan(1, 512, 1024, "float32", num_sms=132)
    assert p.tiles * p.splits >= 132
    assert ops.covariance_plan(1, 64, 4096, "float32", precision="tf32").kernel.endswith("_p1")
    assert ops.covariance_plan(1, 64, 4096, "float16").kernel == "sf_cov_accum_f16_bm64_p1"
    assert not ops.supported("float32", 1001) and ops.supported("float16", 1024) and not ops.supported("float64", 64)
    assert ops.scale_value("cn", 4, 10) == 1 / 40 and ops.scale_value("n-1", 4, 10) == 1 / 9
    with pytest.raises(ValueError):
        ops.scale_value("bogus", 1, 1)


# ------------------------------------------------------------------------------------ nvcc
def test_every_cu_compiles_with_nvcc_sm80_sm90(tmp_path):
    """sm_90: full cubin (ptxas too) with every kernel present; sm_80: PTX (front end), all in parallel."""
    nvcc = loader.find_nvcc()
    if not nvcc:
        pytest.skip("nvcc not found (set CUDA_HOME or put nvcc on PATH)")
    jobs = []
    for src in loader.SOURCES:
        for arch, kind in (("sm_90", "cubin"), ("sm_80", "ptx")):
            out = tmp_path / f"{Path(src).stem}.{arch}.{kind}"
            jobs.append((src, arch, out, subprocess.Popen(loader.nvcc_command(nvcc, src, arch, str(out), kind),
                                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    for src, arch, out, proc in jobs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{src} {arch}: {err[-2000:]}"
        data = out.read_bytes()
        assert data[:4] == b"\x7fELF" if arch == "sm_90" else b".target sm_80" in data
        for name in loader.kernel_names(src):  # every kernel made it in, unmangled
            assert name.encode() in data, (src, arch, name)


# ------------------------------------------------------------------------------------ GPU
def _cuda():
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


gpu = pytest.mark.skipif(not _cuda(), reason="no CUDA device (torch.cuda.is_available() is False)")
VGG = [("relu1_1", 64, 1), ("relu2_1", 128, 2), ("relu3_1", 256, 4), ("relu4_1", 512, 8), ("relu5_1", 512, 16)]
SHAPES = [(layer, c, (size // div) ** 2, b, size) for layer, c, div in VGG for size in (256, 512) for b in (1, 4)]


def _feats(b, c, n, dtype, seed=0):
    import torch

    g = torch.Generator(device="cuda").manual_seed(seed)
    return (torch.relu(torch.randn(b, c, n, device="cuda", generator=g)) + 0.1).to(dtype)


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("dt", ["float32", "float16"])
@pytest.mark.parametrize("layer,c,n,b,size", SHAPES)
def test_gpu_covariance_vs_float64(layer, c, n, b, size, dt):
    import torch

    from styleforge.kernels import torch_ops

    x = _feats(b, c, n, getattr(torch, dt), seed=c + n + b)
    out, mean = torch_ops._cov_cuda(x, True, 1.0 / (n - 1))
    ref, rmean = reference.covariance_torch(x.double(), centre=True, scale=1.0 / (n - 1))
    torch.cuda.synchronize()
    assert torch.isfinite(out).all()
    assert float((out.double() - ref).norm() / ref.norm()) < 2e-4, layer
    assert float((mean.double() - rmean).norm() / rmean.norm()) < 1e-5
    assert torch.equal(out, out.transpose(1, 2))  # mirrored store
    g = torch_ops.gram(x)
    gref = reference.gram_torch(x.double())
    assert float((g.double() - gref).norm() / gref.norm()) < 2e-4


@pytest.mark.gpu
@gpu
def test_gpu_covariance_tf32_bf16_and_odd_sizes():
    import torch

    from styleforge.kernels import torch_ops

    for b, c, n, dt, prec, tol in [(2, 64, 4096, torch.float32, "tf32", 3e-3), (1, 100, 1000, torch.bfloat16, None, 2e-4),
                                   (3, 200, 72, torch.float32, None, 2e-4), (1, 3, 8, torch.float32, None, 2e-4)]:
        x = _feats(b, c, n, dt, seed=n)
        out, _ = torch_ops._cov_cuda(x, True, 1.0 / n, precision=prec)
        ref, _ = reference.covariance_torch(x.double(), centre=True, scale="n")
        assert float((out.double() - ref).norm() / ref.norm()) < tol, (c, n, dt, prec)


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("size,b", [(256, 1), (256, 4), (512, 1)])
@pytest.mark.parametrize("dt", ["float32", "float16"])
def test_gpu_style_loss_and_gradients(size, b, dt):
    import torch

    from styleforge.kernels import torch_ops

    dtype = getattr(torch, dt)
    feats = [_feats(b, c, (size // d) ** 2, dtype, seed=i) for i, (_, c, d) in enumerate(VGG)]
    tgts = [reference.gram_torch(_feats(1, c, (size // d) ** 2, torch.float32, seed=10 + i)) for i, (_, c, d) in enumerate(VGG)]
    w = [1.0, 0.5, 2.0, 1.0, 3.0]
    fk = [f.clone().requires_grad_() for f in feats]
    loss = torch_ops.style_loss(fk, tgts, w)
    (1e10 * loss).backward()  # scaled like a loss-scaled step, so fp16 gradients do not underflow
    f64 = [f.double().requires_grad_() for f in feats]
    ref = sum(wi * torch.mean((reference.gram_torch(f) - t.double()) ** 2) for f, t, wi in zip(f64, tgts, w))
    (1e10 * ref).backward()
    assert abs(float(loss) - float(ref)) / float(ref) < 1e-4
    tol = 1e-3 if dt == "float32" else 5e-3  # G - G* cancels; fp16 gradients are rounded to fp16
    for a, r in zip(fk, f64):
        assert float((a.grad.double() - r.grad).norm() / r.grad.norm()) < tol
    # gram autograd
    x = feats[1].clone().requires_grad_()
    (1e6 * torch_ops.gram(x) ** 2).sum().backward()
    x64 = feats[1].double().requires_grad_()
    (1e6 * reference.gram_torch(x64) ** 2).sum().backward()
    assert float((x.grad.double() - x64.grad).norm() / x64.grad.norm()) < tol
    # train/core/gram.py picks the kernels up for CUDA tensors
    from styleforge.train.core import gram as gram_mod

    assert gram_mod.kernel_ops() is torch_ops


_RANK_DEFICIENT = pytest.mark.xfail(reason="known: fp32 relu5_1 at 256² (N = 256 < C = 512, rank-deficient "
                                    "covariance) gave NaN in the kernel's Newton–Schulz on the H100 check (fp16 inputs of "
                                    "the same shapes passed); the Python API routes N < C to the reference path",
                                    strict=False)
WCT_SHAPES = [s if s[2] >= s[1] else pytest.param(*s, marks=_RANK_DEFICIENT)
              for s in SHAPES if s[0] in ("relu3_1", "relu4_1", "relu5_1")] + \
             [s for s in SHAPES if s[0] in ("relu1_1", "relu2_1") and s[3] == 1]


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("layer,c,n,b,size", WCT_SHAPES)
@pytest.mark.parametrize("dt", ["float32", "float16"])
def test_gpu_whiten_color_vs_float64(layer, c, n, b, size, dt):
    import torch

    from styleforge.kernels import torch_ops  # noqa: F401  (registers torch.ops.styleforge.*)

    dtype = getattr(torch, dt)
    fc = _feats(b, c, n, dtype, seed=1)
    fs = (_feats(1, c, n // 4 if n >= 4096 else n, dtype, seed=2) * 2).to(dtype)
    out = torch.ops.styleforge.whiten_color(fc, fs, 0.8, 1e-5, 1e-5, 20)
    ref = reference.wct_eigh_torch(fc.double(), fs.double(), alpha=0.8)
    torch.cuda.synchronize()
    assert torch.isfinite(out).all()
    assert float((out.double() - ref).norm() / ref.norm()) < 5e-3, layer


@pytest.mark.gpu
@gpu
def test_gpu_whiten_color_public_api_rank_deficient_is_finite():
    import torch

    from styleforge.kernels import torch_ops

    fc = _feats(1, 512, 256, torch.float32, seed=1)
    fs = _feats(1, 512, 256, torch.float32, seed=2) * 2
    out = torch_ops.whiten_color(fc, fs, 0.8, "ns")
    # N < C: the covariances are rank-deficient; compare with the same relative-ridge policy computed in float64
    # on the CPU (NS there too: at a 1e-5 ridge the exact and NS inverse roots differ on the null space).
    from styleforge.train.wct.transforms import whiten_color as wc

    ref = wc(fc[0].double().cpu(), fs[0].double().cpu(), mode="ns", alpha=0.8).to(out.device)
    assert torch.isfinite(out).all() and float((out[0].double() - ref.double()).norm() / ref.double().norm()) < 5e-3


@pytest.mark.gpu
@gpu
def test_gpu_backward_switch_kernel_vs_bmm(monkeypatch):
    import torch

    from styleforge.kernels import torch_ops

    f = _feats(2, 128, 4096, torch.float32, seed=7)
    t = reference.gram_torch(_feats(1, 128, 4096, torch.float32, seed=8))
    grads = []
    for mode in ("bmm", "kernel"):
        monkeypatch.setenv("STYLEFORGE_KERNELS_BACKWARD", mode)
        x = f.clone().requires_grad_()
        (1e10 * torch_ops.style_loss([x], [t], [1.0])).backward()
        grads.append(x.grad)
    assert float((grads[0] - grads[1]).norm() / grads[1].norm()) < 1e-3


@pytest.mark.gpu
@gpu
def test_gpu_whiten_color_through_train_module_and_graph_capture():
    import torch

    from styleforge.train.wct import transforms as W

    fc = _feats(1, 256, 1024, torch.float32, seed=3)[0]
    fs = _feats(1, 256, 900, torch.float32, seed=4)[0]
    a = W.whiten_color(fc, fs, "ns", 0.6)
    from styleforge.kernels import torch_ops

    torch_ops.set_enabled(False)
    try:
        b = W.whiten_color(fc, fs, "ns", 0.6)
    finally:
        torch_ops.set_enabled(True)
    assert float((a - b).norm() / b.norm()) < 5e-3
    # capturable: the whole op in a CUDA graph, replayed on new data
    x, y = fc[None].clone(), fs[None].clone()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        torch.ops.styleforge.whiten_color(x, y, 1.0, 1e-5, 1e-5, 20)
    torch.cuda.current_stream().wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = torch.ops.styleforge.whiten_color(x, y, 1.0, 1e-5, 1e-5, 20)
    x.copy_(_feats(1, 256, 1024, torch.float32, seed=5))
    graph.replay()
    ref = reference.wct_eigh_torch(x.double(), y.double(), alpha=1.0)
    assert float((out.double() - ref).norm() / ref.norm()) < 5e-3


@pytest.mark.gpu
@gpu
def test_gpu_cupy_arrays_and_raw_pointers():
    cupy = pytest.importorskip("cupy")
    x = cupy.asarray(np.maximum(np.random.default_rng(0).standard_normal((2, 64, 4096)), 0).astype(np.float32))
    plan = ops.covariance_plan(2, 64, 4096, "float32", num_sms=cupy.cuda.Device().attributes["MultiProcessorCount"])
    out = cupy.empty((2, 64, 64), dtype=cupy.float32)
    ws = cupy.empty((plan.ws_floats,), dtype=cupy.float32)
    stream = cupy.cuda.Stream(non_blocking=True)
    ops.covariance(x, out.data.ptr, ws, B=2, C=64, N=4096, dtype="float32", stream=stream)
    stream.synchronize()
    ref, _ = reference.covariance_np(cupy.asnumpy(x))
    assert _rel(cupy.asnumpy(out), ref) < 2e-4
