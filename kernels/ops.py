"""Launch plans: the kernel sequences behind covariance/Gram, style loss and whitening–colouring,
on raw device buffers (anything :func:`loader.device_pointer` accepts) and a caller-given stream.

Framework-free: torch_ops.py wraps these for torch tensors (allocation, autograd); CuPy users call
them with CuPy arrays and ``cupy.cuda.get_current_stream()``. Every plan is a fixed sequence of kernel
launches with no host synchronisation, so it can be captured in a CUDA graph.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import loader

DTYPES = {"float32": ("f32", 4), "float16": ("f16", 2), "bfloat16": ("bf16", 2)}
STAGES = 4
#: Scale names accepted by :func:`covariance_plan`.
SCALES = ("n", "n-1", "cn", "none")
PRECISIONS = ("3xtf32", "tf32")


@dataclass(frozen=True)
class CovPlan:
    kernel: str
    bm: int
    threads: int
    nt: int
    tiles: int
    splits: int
    chunk: int
    smem: int
    scale: float
    replicas: int
    ws_floats: int  # replicas*B*C*C + B*C


def scale_value(scale, C: int, N: int) -> float:
    if isinstance(scale, (int, float)) and not isinstance(scale, bool):
        return float(scale)
    if scale == "n":
        return 1.0 / N
    if scale == "n-1":
        return 1.0 / max(N - 1, 1)
    if scale == "cn":
        return 1.0 / (C * N)
    if scale == "none":
        return 1.0
    raise ValueError(f"unknown covariance scale {scale!r}; one of {', '.join(SCALES)} or a number")


def supported(dtype: str, N: int, ptr: int = 0) -> bool:
    """Whether the fused kernel takes this input (16-byte aligned rows); else callers use a reference."""
    if dtype not in DTYPES:
        return False
    size = DTYPES[dtype][1]
    return (N * size) % 16 == 0 and ptr % 16 == 0


def covariance_plan(B: int, C: int, N: int, dtype: str, *, scale="n-1", precision: str = "3xtf32",
                    num_sms: int = 132, splits: int | None = None) -> CovPlan:
    """Tile size, split-N factor and shared memory for one covariance launch (pure arithmetic)."""
    if dtype not in DTYPES:
        raise ValueError(f"unsupported dtype {dtype}; one of {', '.join(DTYPES)}")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; one of {', '.join(PRECISIONS)}")
    tag, size = DTYPES[dtype]
    bm = 64 if C <= 64 else 128
    threads = 128 if bm == 64 else 256
    passes = 3 if (tag == "f32" and precision == "3xtf32") else 1
    bk = 32 if tag == "f32" else 64
    pad = 16 // size
    nt = -(-C // bm)
    tiles = nt * (nt + 1) // 2
    if splits is None:
        per_sm = 4 if bm == 64 else 2
        want = max(1, -(-per_sm * num_sms // (tiles * B)))
        cap = max(1, N // (bk * 8))
        if tiles * B * cap < num_sms:  # small N (e.g. C = 512, N = 1024): shorter chunks, more blocks
            cap = max(1, N // (bk * 2))
        splits = min(want, cap)
    splits = max(1, min(int(splits), -(-N // bk)))
    chunk = -(-(-(-N // splits)) // bk) * bk
    splits = -(-N // chunk)
    smem = STAGES * (1 if nt == 1 else 2) * bm * (bk + pad) * size
    smem = max(smem, (threads // 32) * 256 * 4)
    # copies of the output the split-N atomics spread over: each address takes ~splits/replicas adds
    replicas = max(1, min(splits // 8, 16, (4 << 20) // max(1, B * C * C)))
    return CovPlan(f"sf_cov_accum_{tag}_bm{bm}_p{passes}", bm, threads, nt, tiles, splits, chunk, smem,
                   scale_value(scale, C, N), replicas, replicas * B * C * C + B * C)


def _grid1d(n: int, threads: int = 256, cap: int = 8192) -> int:
    return max(1, min(cap, -(-n // threads)))


def covariance(x, out, ws, *, B: int, C: int, N: int, dtype: str, centre: bool = True, scale="n-1", mean=None,
               stream=None, precision: str = "3xtf32", splits: int | None = None, x_bstride: int | None = None,
               device: int | None = None, plan: CovPlan | None = None) -> CovPlan:
    """out (B×C×C fp32) = scale · centred (or not) X Xᵀ; mean (B×C fp32, optional) = row means.

    ws: fp32 workspace of ``plan.ws_floats`` elements (zeroed here), for the plan of
    :func:`covariance_plan` with this device's SM count (pass the plan you sized ws with). Returns the plan.
    """
    if plan is None:
        plan = covariance_plan(B, C, N, dtype, scale=scale, precision=precision,
                               num_sms=loader.multiprocessor_count(device), splits=splits)
    wsp = loader.device_pointer(ws)
    rs = wsp + 4 * plan.replicas * B * C * C
    need_rs = centre or mean is not None
    loader.get_kernel("sf_zero_f32", device)((_grid1d(plan.ws_floats),), (256,), (wsp, plan.ws_floats), stream=stream)
    loader.get_kernel(plan.kernel, device)(
        (plan.tiles, plan.splits, B), (plan.threads,),
        (x, wsp, rs if need_rs else 0, C, N, plan.chunk, plan.nt, x_bstride if x_bstride is not None else C * N,
         plan.replicas, B),
        shared_mem=plan.smem, stream=stream)
    loader.get_kernel("sf_cov_finalize", device)(
        (_grid1d(B * C * C),), (256,), (wsp, rs, out, mean, B, C, N, plan.scale, int(bool(centre)), plan.replicas),
        stream=stream)
    return plan


def apply_matrix(A, X, Y, *, B: int, C: int, N: int, dtype: str, a_bstride: int | None = None, bias=None,
                 bias_bstride: int | None = None, scale_ptr=None, scale: float = 1.0, blend: float = 1.0,
                 stream=None, kernel_prefix: str = "sf_apply", device: int | None = None) -> None:
    """Y[b] = blend · (scale·(*scale_ptr)·A[b] X[b] + bias[b]) + (1 − blend) · X[b]   (A fp32 C×C)."""
    tag = DTYPES[dtype][0]
    grid = (-(-N // 64), -(-C // 64), B)
    loader.get_kernel(f"{kernel_prefix}_{tag}", device)(
        grid, (128,), (A, C * C if a_bstride is None else a_bstride, X, Y, bias, C if bias_bstride is None else bias_bstride,
                       scale_ptr, float(scale), float(blend), C, N, C * N), stream=stream)


def style_diff(G, T, D, loss, *, B: int, C: int, weight: float, t_batch: int, stream=None, device=None) -> None:
    """D = G − T (T broadcast when its batch is 1); *loss += weight/(B·C²) · Σ D²."""
    n = B * C * C
    loader.get_kernel("sf_style_diff", device)(
        (_grid1d(n, 256, 1024),), (256,), (G, T, 0 if t_batch == 1 else C * C, D, loss, float(weight) / (B * C * C), B, C),
        stream=stream)


@dataclass(frozen=True)
class WctWorkspace:
    """Float counts of the buffers :func:`whiten_color` needs (callers allocate; fp32)."""
    cov: int
    ws: int
    mean: int
    yz: int
    t: int
    norms: int
    m: int
    bias: int

    @classmethod
    def sizes(cls, Bc: int, Bs: int, C: int, Nc: int, Ns: int, num_sms: int = 132) -> "WctWorkspace":
        M = Bc + Bs
        cc = C * C
        ws = max(covariance_plan(Bc, C, Nc, "float32", num_sms=num_sms).ws_floats,
                 covariance_plan(Bs, C, Ns, "float32", num_sms=num_sms).ws_floats)
        return cls(cov=M * cc, ws=ws, mean=M * C, yz=2 * 2 * M * cc, t=M * cc, norms=2 * M,
                   m=Bc * cc, bias=Bc * C)

    def total(self) -> int:
        return sum(getattr(self, k) for k in self.__dataclass_fields__)


def whiten_color(fc, fs, out, work, *, Bc: int, Bs: int, C: int, Nc: int, Ns: int, alpha: float = 1.0,
                 reg: float = 1e-5, color_reg: float | None = None, iters: int = 20, stream=None,
                 device: int | None = None) -> None:
    """out = α (M (fc − μc) + μs) + (1 − α) fc, all fp32, coupled Newton–Schulz, with
    M = Σs (Σs + r_s)^{-1/2} (Σc + r_c)^{-1/2}, r_c = reg·tr(Σc)/C, r_s = color_reg·tr(Σs)/C (relative ridges;
    color_reg defaults to reg): train/wct/transforms.py's policy (its defaults here).

    fc: Bc×C×Nc, fs: Bs×C×Ns (Bs = Bc or 1), out: Bc×C×Nc, work: one fp32 buffer of
    ``WctWorkspace.sizes(...).total()`` floats. ~2·iters + 9 launches, no host synchronisation.
    """
    sms = loader.multiprocessor_count(device)
    sz = WctWorkspace.sizes(Bc, Bs, C, Nc, Ns, num_sms=sms)
    base = loader.device_pointer(work)
    ptr = {}
    off = 0
    for k in sz.__dataclass_fields__:
        ptr[k] = base + 4 * off
        off += getattr(sz, k)
    M = Bc + Bs
    cc = C * C
    covariance(fc, ptr["cov"], ptr["ws"], B=Bc, C=C, N=Nc, dtype="float32", centre=True, scale="n-1",
               mean=ptr["mean"], stream=stream, device=device,
               plan=covariance_plan(Bc, C, Nc, "float32", scale="n-1", num_sms=sms))
    covariance(fs, ptr["cov"] + 4 * Bc * cc, ptr["ws"], B=Bs, C=C, N=Ns, dtype="float32", centre=True, scale="n-1",
               mean=ptr["mean"] + 4 * Bc * C, stream=stream, device=device,
               plan=covariance_plan(Bs, C, Ns, "float32", scale="n-1", num_sms=sms))
    yz = [ptr["yz"], ptr["yz"] + 4 * 2 * M * cc]
    color_reg = reg if color_reg is None else color_reg
    loader.get_kernel("sf_ns_init", device)((M,), (1024,), (ptr["cov"], yz[0], ptr["norms"], M, C, float(reg),
                                                     float(color_reg), Bc), stream=stream)
    tiles = -(-C // 32)
    step1 = loader.get_kernel("sf_ns_step1", device)
    step2 = loader.get_kernel("sf_ns_step2", device)
    cur = 0
    for _ in range(int(iters)):
        step1((tiles, tiles, M), (128,), (yz[cur], ptr["t"], M, C), stream=stream)
        step2((tiles, tiles, 2 * M), (128,), (yz[cur], ptr["t"], yz[1 - cur], M, C), stream=stream)
        cur = 1 - cur
    loader.get_kernel("sf_wct_matrix", device)((tiles, tiles, Bc), (128,), (yz[cur], ptr["norms"], ptr["m"], Bc, Bs, C),
                                               stream=stream)
    loader.get_kernel("sf_wct_bias", device)((-(-C // 8), Bc), (256,),
                                             (ptr["m"], ptr["mean"], ptr["mean"] + 4 * Bc * C, ptr["bias"], Bc, Bs, C),
                                             stream=stream)
    apply_matrix(ptr["m"], fc, out, B=Bc, C=C, N=Nc, dtype="float32", bias=ptr["bias"], blend=alpha, stream=stream,
                 kernel_prefix="sf_wct_apply", device=device)
