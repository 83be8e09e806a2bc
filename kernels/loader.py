"""Compile the CUDA C sources of this package to a cubin for one GPU architecture, cache it, load it
and launch its kernels on a caller-given stream — through NVIDIA's cuda-python (``cuda.bindings``).

- Compiler: NVRTC (``cuda.bindings.nvrtc``) first, nvcc (on PATH or in ``$CUDA_HOME/bin``) second;
  ``STYLEFORGE_KERNELS_COMPILER=nvrtc|nvcc`` forces one. Both emit a cubin for ``sm_XY`` of the device.
- Cache: ``$STYLEFORGE_KERNEL_CACHE`` or ``$XDG_CACHE_HOME/styleforge/kernels`` (default
  ``~/.cache/styleforge/kernels``); key = sha256 of (sources + headers, options, arch, compiler + version).
- Launch: :class:`Kernel` takes pointer-like arguments (torch tensors, CuPy arrays, anything with
  ``__cuda_array_interface__``, ``int`` raw pointers, PyCUDA allocations) and scalars typed by the
  kernel's :data:`SIGNATURES` entry, and a stream (``int`` handle, torch/CuPy stream, or ``None`` = the
  legacy default stream).

Nothing here is imported by ``styleforge.kernels`` at import time; this module itself imports
cuda-python lazily, so the logic (cache keys, marshalling) is testable on machines without a GPU.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

KERNEL_DIR = Path(__file__).resolve().parent
SOURCES = ("covariance.cu", "style_loss.cu", "wct.cu")
HEADERS = ("sf_common.cuh", "sf_gemm.cuh")
BASE_OPTIONS = ("-std=c++17", "-default-device", "--use_fast_math")
NVCC_OPTIONS = ("-std=c++17", "--use_fast_math")


class KernelError(RuntimeError):
    """Compilation, loading or launch failed; the message names the step and the CUDA error."""


# ---------------------------------------------------------------------------------------------- signatures
# Kernel parameter types, in order: 'p' device pointer, 'i' int32, 'q' int64, 'f' float32.
_COV = "pppiqqiqii"
_APPLY = "pqpppqpffiqq"
SIGNATURES: dict[str, str] = {
    **{f"sf_cov_accum_{t}_bm{bm}_p{p}": _COV for t, p in (("f32", 3), ("f32", 1), ("f16", 1), ("bf16", 1))
       for bm in (64, 128)},
    "sf_zero_f32": "pq",
    "sf_cov_finalize": "ppppiiqfii",
    "sf_style_diff": "ppqppfii",
    **{f"sf_apply_{t}": _APPLY for t in ("f32", "f16", "bf16")},
    **{f"sf_wct_apply_{t}": _APPLY for t in ("f32", "f16", "bf16")},
    "sf_ns_init": "pppiiffi",
    "sf_ns_step1": "ppii",
    "sf_ns_step2": "pppii",
    "sf_wct_matrix": "pppiii",
    "sf_wct_bias": "ppppiii",
}
_CTYPES = {"p": ctypes.c_uint64, "i": ctypes.c_int32, "q": ctypes.c_int64, "f": ctypes.c_float}


@functools.lru_cache(maxsize=None)
def kernel_names(source: str) -> tuple[str, ...]:
    """The extern "C" kernel names a source defines (direct definitions and SF_* macro instantiations)."""
    text = (KERNEL_DIR / source).read_text()
    names = re.findall(r'extern "C" __global__ void(?:\s+__launch_bounds__\([^)]*\))?\s+(sf_\w+)\s*\(', text)
    names += re.findall(r"^SF_(?:COV_ACCUM|APPLY)\((\w+),", text, flags=re.M)
    return tuple(names)


# ---------------------------------------------------------------------------------------------- pointers
def device_pointer(obj) -> int:
    """Device address of a torch tensor, a CuPy array, an object with ``__cuda_array_interface__``,
    an int (raw pointer), a PyCUDA ``DeviceAllocation`` (``int(obj)``) or ``None`` (null)."""
    if obj is None:
        return 0
    if isinstance(obj, bool):
        raise TypeError("a bool is not a device pointer")
    if isinstance(obj, int):
        if obj < 0:
            raise ValueError(f"negative device pointer {obj}")
        return obj
    if hasattr(obj, "data_ptr") and hasattr(obj, "is_cuda"):  # torch.Tensor
        if not obj.is_cuda:
            raise ValueError("a CPU torch tensor was passed where a CUDA buffer is needed")
        return int(obj.data_ptr())
    cai = getattr(obj, "__cuda_array_interface__", None)
    if cai is not None:
        return int(cai["data"][0])
    if hasattr(obj, "ptr"):  # cupy.cuda.MemoryPointer, cuda.core Buffer-like
        return int(obj.ptr)
    try:
        return int(obj)  # pycuda DeviceAllocation, numpy integer
    except (TypeError, ValueError):
        raise TypeError(f"cannot take a device pointer from {type(obj).__name__}") from None


def array_info(obj) -> tuple[int, tuple[int, ...], str, tuple[int, ...] | None]:
    """(pointer, shape, dtype name, strides in elements or None for C-contiguous) of a device array."""
    if hasattr(obj, "data_ptr") and hasattr(obj, "is_cuda"):
        dt = str(obj.dtype).replace("torch.", "")
        return device_pointer(obj), tuple(obj.shape), dt, None if obj.is_contiguous() else tuple(obj.stride())
    cai = getattr(obj, "__cuda_array_interface__", None)
    if cai is None:
        raise TypeError(f"{type(obj).__name__} has no __cuda_array_interface__")
    typestr = cai["typestr"]
    dtype = {"<f4": "float32", "<f2": "float16", "<f8": "float64", "<i4": "int32", "<i8": "int64"}.get(typestr)
    if dtype is None:
        dtype = "bfloat16" if typestr in ("<V2", "<b2") else typestr
    shape = tuple(int(s) for s in cai["shape"])
    strides = cai.get("strides")
    if strides is not None:
        item = int(typestr[2:]) if typestr[2:].isdigit() else 2
        st = tuple(int(s) // item for s in strides)
        contig = tuple(_contiguous_strides(shape))
        strides = None if st == contig else st
    return int(cai["data"][0]), shape, dtype, strides


def _contiguous_strides(shape):
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc *= max(int(s), 1)
    return list(reversed(out))


def stream_handle(stream) -> int:
    """Raw CUstream of a stream given as int, torch.cuda.Stream, CuPy stream, cuda.core Stream or None."""
    if stream is None:
        return 0
    if isinstance(stream, int):
        return stream
    for attr in ("cuda_stream", "ptr", "handle"):
        v = getattr(stream, attr, None)
        if v is not None:
            return int(v)
    if hasattr(stream, "__cuda_stream__"):
        return int(stream.__cuda_stream__()[1])
    return int(stream)


def pack_args(signature: str, args) -> tuple[ctypes.Array, list]:
    """Marshal kernel arguments: returns (void*[] array, keep-alive list of ctypes values)."""
    if len(signature) != len(args):
        raise KernelError(f"kernel takes {len(signature)} arguments ({signature}), got {len(args)}")
    values = []
    for code, a in zip(signature, args):
        if code == "p":
            values.append(ctypes.c_uint64(device_pointer(a)))
        elif code in "iq":
            if isinstance(a, float) or isinstance(a, bool):
                raise TypeError(f"integer kernel argument expected, got {a!r}")
            values.append(_CTYPES[code](int(a)))
        elif code == "f":
            values.append(ctypes.c_float(float(a)))
        else:
            raise KernelError(f"unknown signature code {code!r}")
    ptrs = (ctypes.c_void_p * max(len(values), 1))(*[ctypes.cast(ctypes.pointer(v), ctypes.c_void_p) for v in values])
    return ptrs, values


# ---------------------------------------------------------------------------------------------- cache
def cache_dir() -> Path:
    env = os.environ.get("STYLEFORGE_KERNEL_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "styleforge" / "kernels"


def source_digest(source: str) -> str:
    h = hashlib.sha256()
    for name in (source, *HEADERS):
        h.update(name.encode())
        h.update(b"\0")
        h.update((KERNEL_DIR / name).read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def cache_key(source: str, arch: str, compiler: str, compiler_version: str, options=BASE_OPTIONS) -> str:
    """Stable key: the sources and headers, options, target arch and compiler identity."""
    h = hashlib.sha256()
    for part in (source_digest(source), arch, compiler, compiler_version, " ".join(options)):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


def cache_path(source: str, arch: str, compiler: str, compiler_version: str) -> Path:
    stem = Path(source).stem
    return cache_dir() / f"{stem}-{arch}-{cache_key(source, arch, compiler, compiler_version)}.cubin"


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


# ---------------------------------------------------------------------------------------------- compilers
def find_nvcc() -> str | None:
    for cand in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if cand and (Path(cand) / "bin" / "nvcc").is_file():
            return str(Path(cand) / "bin" / "nvcc")
    return shutil.which("nvcc")


def nvcc_version(nvcc: str) -> str:
    out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, timeout=60).stdout
    m = re.search(r"release [\d.]+, V([\d.]+)", out)
    return m.group(1) if m else out.strip().splitlines()[-1] if out.strip() else "unknown"


def nvcc_command(nvcc: str, source: str, arch: str, out: str, kind: str = "cubin") -> list[str]:
    """The nvcc command line that builds `source` for `arch` (e.g. 'sm_90') to a cubin or PTX."""
    target = f"-arch={arch}" if kind == "cubin" else f"-arch=compute_{arch.split('_')[1]}"
    return [nvcc, *NVCC_OPTIONS, target, f"-{kind}", "-I", str(KERNEL_DIR), "-o", out, str(KERNEL_DIR / source)]


def compile_nvcc(source: str, arch: str, nvcc: str | None = None) -> bytes:
    nvcc = nvcc or find_nvcc()
    if not nvcc:
        raise KernelError("nvcc not found (set CUDA_HOME or put nvcc on PATH)")
    with tempfile.TemporaryDirectory() as td:
        out = os.path.join(td, "k.cubin")
        p = subprocess.run(nvcc_command(nvcc, source, arch, out), capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise KernelError(f"nvcc failed on {source} for {arch}:\n{p.stderr[-4000:]}")
        return Path(out).read_bytes()


def _bindings():
    try:
        from cuda.bindings import driver, nvrtc
    except ImportError:
        try:
            from cuda import cuda as driver, nvrtc  # cuda-python < 12.6 layout
        except ImportError as e:
            raise KernelError("cuda-python is not installed (pip install cuda-python)") from e
    return driver, nvrtc


def _nvrtc_check(nvrtc, res, what):
    err = res[0] if isinstance(res, tuple) else res
    if int(err) != 0:
        raise KernelError(f"NVRTC {what} failed: {err}")
    return res[1:] if isinstance(res, tuple) else ()


def nvrtc_version() -> str:
    _, nvrtc = _bindings()
    major, minor = _nvrtc_check(nvrtc, nvrtc.nvrtcVersion(), "version")
    return f"{major}.{minor}"


def _include_dirs() -> list[str]:
    dirs = [str(KERNEL_DIR)]
    try:
        from cuda import pathfinder

        for lib in ("cudart", "nvrtc"):
            try:
                d = pathfinder.find_nvidia_header_directory(lib)
                if d and d not in dirs:
                    dirs.append(str(d))
            except Exception:
                pass
    except ImportError:
        pass
    for cand in (os.environ.get("CUDA_HOME"), "/usr/local/cuda"):
        if cand and (Path(cand) / "include" / "cuda_fp16.h").is_file() and str(Path(cand) / "include") not in dirs:
            dirs.append(str(Path(cand) / "include"))
    return dirs


def compile_nvrtc(source: str, arch: str) -> bytes:
    _, nvrtc = _bindings()
    src = (KERNEL_DIR / source).read_bytes()
    (prog,) = _nvrtc_check(nvrtc, nvrtc.nvrtcCreateProgram(src, source.encode(), 0, [], []), "create")
    opts = [*BASE_OPTIONS, f"-arch={arch}", *[f"-I{d}" for d in _include_dirs()]]
    res = nvrtc.nvrtcCompileProgram(prog, len(opts), [o.encode() for o in opts])
    if int(res[0]) != 0:
        (size,) = _nvrtc_check(nvrtc, nvrtc.nvrtcGetProgramLogSize(prog), "log size")
        log = b" " * size
        nvrtc.nvrtcGetProgramLog(prog, log)
        raise KernelError(f"NVRTC failed on {source} for {arch}:\n{log.decode(errors='replace')[-4000:]}")
    (size,) = _nvrtc_check(nvrtc, nvrtc.nvrtcGetCUBINSize(prog), "cubin size")
    buf = b" " * size
    _nvrtc_check(nvrtc, nvrtc.nvrtcGetCUBIN(prog, buf), "get cubin")
    nvrtc.nvrtcDestroyProgram(prog)
    return buf


def build(source: str, arch: str, compiler: str | None = None) -> tuple[bytes, Path]:
    """The cubin of `source` for `arch`, from the cache or freshly compiled (then cached)."""
    compiler = compiler or os.environ.get("STYLEFORGE_KERNELS_COMPILER", "")
    errors = []
    order = [compiler] if compiler else ["nvrtc", "nvcc"]
    for comp in order:
        try:
            if comp == "nvrtc":
                version = nvrtc_version()
            elif comp == "nvcc":
                nvcc = find_nvcc()
                if not nvcc:
                    raise KernelError("nvcc not found")
                version = nvcc_version(nvcc)
            else:
                raise KernelError(f"unknown compiler {comp!r} (nvrtc or nvcc)")
            path = cache_path(source, arch, comp, version)
            if path.is_file():
                return path.read_bytes(), path
            data = compile_nvrtc(source, arch) if comp == "nvrtc" else compile_nvcc(source, arch)
            _write_atomic(path, data)
            return data, path
        except KernelError as e:
            errors.append(f"{comp}: {e}")
    raise KernelError("could not compile " + source + ": " + " | ".join(errors))


# ---------------------------------------------------------------------------------------------- driver
def _check(res, what):
    err = res[0] if isinstance(res, tuple) else res
    if int(err) != 0:
        raise KernelError(f"{what} failed: {err}")
    rest = res[1:] if isinstance(res, tuple) else ()
    return rest[0] if len(rest) == 1 else rest


_lock = threading.RLock()
_modules: dict[tuple[int, str], "Module"] = {}


def _ensure_context(device: int | None):
    driver, _ = _bindings()
    _check(driver.cuInit(0), "cuInit")
    ctx = _check(driver.cuCtxGetCurrent(), "cuCtxGetCurrent")
    if int(ctx) == 0:
        dev = _check(driver.cuDeviceGet(device or 0), "cuDeviceGet")
        ctx = _check(driver.cuDevicePrimaryCtxRetain(dev), "cuDevicePrimaryCtxRetain")
        _check(driver.cuCtxSetCurrent(ctx), "cuCtxSetCurrent")
    dev = _check(driver.cuCtxGetDevice(), "cuCtxGetDevice")
    return driver, int(dev)


def device_arch(device: int | None = None) -> str:
    driver, dev = _ensure_context(device)
    A = driver.CUdevice_attribute
    major = _check(driver.cuDeviceGetAttribute(A.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev), "attr")
    minor = _check(driver.cuDeviceGetAttribute(A.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev), "attr")
    return f"sm_{major}{minor}"


def multiprocessor_count(device: int | None = None) -> int:
    if device is not None and int(device) in _sm_seen:
        return _sm_count(int(device))
    _, dev = _ensure_context(device)
    _sm_seen.add(dev)
    return _sm_count(dev)


_sm_seen: set[int] = set()


@functools.lru_cache(maxsize=None)
def _sm_count(dev: int) -> int:
    driver, _ = _bindings()
    A = driver.CUdevice_attribute
    return int(_check(driver.cuDeviceGetAttribute(A.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev), "attr"))


@dataclass
class Kernel:
    name: str
    handle: object
    signature: str
    _max_smem: int = 48 * 1024

    def __call__(self, grid, block, args, *, shared_mem: int = 0, stream=None) -> None:
        driver, _ = _bindings()
        grid = tuple(int(g) for g in (grid if isinstance(grid, (tuple, list)) else (grid,))) + (1, 1)
        block = tuple(int(b) for b in (block if isinstance(block, (tuple, list)) else (block,))) + (1, 1)
        if min(grid[:3]) <= 0:
            return
        if shared_mem > self._max_smem:
            A = driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
            _check(driver.cuFuncSetAttribute(self.handle, A, int(shared_mem)), f"cuFuncSetAttribute({self.name})")
            self._max_smem = int(shared_mem)
        ptrs, keep = pack_args(self.signature, args)
        _check(driver.cuLaunchKernel(self.handle, grid[0], grid[1], grid[2], block[0], block[1], block[2],
                                     int(shared_mem), stream_handle(stream), ctypes.addressof(ptrs), 0),
               f"launch {self.name}")
        del keep


class Module:
    def __init__(self, source: str, device: int | None = None):
        driver, dev = _ensure_context(device)
        self.source, self.device = source, dev
        self.arch = device_arch(dev)
        self.cubin, self.path = build(source, self.arch)
        self._buf = ctypes.create_string_buffer(self.cubin, len(self.cubin))
        self.handle = _check(driver.cuModuleLoadData(ctypes.addressof(self._buf)), f"cuModuleLoadData({source})")
        self._kernels: dict[str, Kernel] = {}

    def kernel(self, name: str) -> Kernel:
        k = self._kernels.get(name)
        if k is None:
            driver, _ = _bindings()
            h = _check(driver.cuModuleGetFunction(self.handle, name.encode()), f"cuModuleGetFunction({name})")
            k = self._kernels[name] = Kernel(name, h, SIGNATURES[name])
        return k


def get_module(source: str, device: int | None = None) -> Module:
    with _lock:
        _, dev = _ensure_context(device)
        key = (dev, source)
        if key not in _modules:
            _modules[key] = Module(source, dev)
        return _modules[key]


_kernel_cache: dict[tuple[int, str], Kernel] = {}


def get_kernel(name: str, device: int | None = None) -> Kernel:
    """The kernel `name` of this package for `device` (an ordinal; None = the current context's device).

    With an explicit ordinal, later calls skip the driver's context queries (host launch overhead)."""
    if device is not None:
        k = _kernel_cache.get((int(device), name))
        if k is not None:
            return k
    k = _find_kernel(name, device)
    if device is not None:
        _kernel_cache[(int(device), name)] = k
    return k


def _find_kernel(name: str, device: int | None) -> Kernel:
    for src in SOURCES:
        if name in kernel_names(src):
            return get_module(src, device).kernel(name)
    raise KernelError(f"no kernel named {name!r} in {', '.join(SOURCES)}")


def precompile(arch: str, compiler: str | None = None, jobs: int | None = None) -> list[tuple[str, str, float]]:
    """Compile every source for `arch` into the cache, in parallel processes; [(source, cubin path, seconds)]."""
    import concurrent.futures as cf
    import time

    def one(src):
        t = time.perf_counter()
        _, path = build(src, arch, compiler)
        return src, str(path), time.perf_counter() - t

    with cf.ThreadPoolExecutor(max_workers=jobs or len(SOURCES)) as ex:
        return list(ex.map(one, SOURCES))


def _main(argv=None) -> int:
    import argparse
    import time

    ap = argparse.ArgumentParser(prog="python -m styleforge.kernels.loader",
                                 description="compile the kernels into the cache (no GPU needed with --arch)")
    ap.add_argument("--arch", help="e.g. sm_90 (default: the current device's)")
    ap.add_argument("--compiler", choices=["nvrtc", "nvcc"], help="default: nvrtc, then nvcc")
    args = ap.parse_args(argv)
    try:
        arch = args.arch or device_arch()
        t = time.perf_counter()
        for src, path, secs in precompile(arch, args.compiler):
            print(f"{src}: {path} ({secs:.1f} s)")
    except Exception as e:  # a missing NVRTC library, no nvcc, a compile error: one line, not a traceback
        import sys

        print(f"styleforge kernels: error: {type(e).__name__}: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    print(f"total {time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
