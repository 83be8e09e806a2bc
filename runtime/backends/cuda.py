"""cuda-python for the GPU runners and the engine builder: import, error checks, the device probe, and
host/device buffers.

cuda-python imports fine on machines without a GPU or driver; its calls then return
``cudaErrorInsufficientDriver`` / ``cudaErrorNoDevice``. So availability is ``cudaGetDeviceCount()``
succeeding with at least one device — never an import. Calls return ``(err, *values)``
(``from cuda.bindings import runtime``; cuda-python >= 12.6.2.post1, which has ``cuda.bindings``).
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np

from ..errors import StyleForgeError
from .base import Verdict

CUDA_PYTHON_NEED = "cuda-python>=12.6.2.post1 (pip install 'styleforge[gpu]')"


def cudart():
    """``cuda.bindings.runtime``, or a StyleForgeError saying how to get it."""
    try:
        from cuda.bindings import runtime
    except ImportError as e:
        raise StyleForgeError(f"needs {CUDA_PYTHON_NEED}; `from cuda.bindings import runtime` failed ({e})") from None
    return runtime


def error_name(err) -> str:
    try:
        _, name = cudart().cudaGetErrorName(err)
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:
        return str(err)


def check(result, what: str = "CUDA call"):
    """cuda-python returns (err, *values): raise StyleForgeError naming the call and the error; return the values."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise StyleForgeError(f"{what} failed: {error_name(err)}")
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    compute_capability: str   # "8.9"
    count: int                # devices visible
    memory_bytes: int = 0


def device_info(device: int | None = None) -> DeviceInfo:
    """The current (or given) CUDA device; StyleForgeError when there is no usable GPU, naming why."""
    rt = cudart()
    count = check(rt.cudaGetDeviceCount(), "cudaGetDeviceCount (is there an NVIDIA GPU and driver?)")
    if not count:
        raise StyleForgeError("no CUDA device visible (cudaGetDeviceCount = 0)")
    if device is None:
        device = int(check(rt.cudaGetDevice(), "cudaGetDevice"))
    if not 0 <= int(device) < int(count):
        raise StyleForgeError(f"device_id {device}: only {count} CUDA device(s) here")
    props = check(rt.cudaGetDeviceProperties(int(device)), "cudaGetDeviceProperties")
    name = props.name
    name = name.decode(errors="replace") if isinstance(name, (bytes, bytearray)) else str(name)
    return DeviceInfo(index=int(device), name=name.rstrip("\x00").strip(), compute_capability=f"{props.major}.{props.minor}",
                      count=int(count), memory_bytes=int(getattr(props, "totalGlobalMem", 0) or 0))


def probe_device() -> Verdict:
    """Yes when cuda-python is importable and reports a CUDA device; else why not."""
    try:
        info = device_info()
    except StyleForgeError as e:
        return Verdict.no(str(e))
    return Verdict.yes(f"{info.name} (sm {info.compute_capability})")


class _GrowingBuffer:
    """Memory that grows on demand (``ptr`` changes only when it grows) and is freed explicitly."""

    ALLOC, FREE = "", ""

    def __init__(self):
        self.ptr, self.nbytes = 0, 0

    def ensure(self, nbytes: int) -> int:
        if nbytes > self.nbytes:
            self.free()
            size = max(int(nbytes), 256)
            self.ptr = int(check(getattr(cudart(), self.ALLOC)(size), f"{self.ALLOC}({size})"))
            self.nbytes = size
        return self.ptr

    def free(self) -> None:
        if self.ptr:
            getattr(cudart(), self.FREE)(self.ptr)
            self.ptr, self.nbytes = 0, 0


class PinnedBuffer(_GrowingBuffer):
    """Page-locked host memory (``cudaMallocHost``) viewed as numpy arrays: async copies from/to it overlap
    with the GPU, where pageable memory is staged synchronously. Reused across runs, so results are copied
    out before the next run."""

    ALLOC, FREE = "cudaMallocHost", "cudaFreeHost"

    def view(self, shape, dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        n = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        self.ensure(n)
        raw = (ctypes.c_ubyte * max(n, 1)).from_address(self.ptr)
        return np.frombuffer(raw, dtype=np.uint8, count=n).view(dtype).reshape(shape)


class DeviceBuffer(_GrowingBuffer):
    """Device memory (``cudaMalloc``)."""

    ALLOC, FREE = "cudaMalloc", "cudaFree"
