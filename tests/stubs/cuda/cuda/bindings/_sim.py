"""A simulated GPU for ``cuda.bindings.runtime`` (``STYLEFORGE_STUB_CUDA=sim``): one device whose "device
memory" is host memory, so code written to cuda-python's runtime API runs end to end on a CPU machine.

What it reproduces of the real API: every call returns ``(err, *values)``; pointers are ints; unknown or
freed pointers give ``cudaErrorInvalidValue``; ``cudaMemcpyAsync`` copies ``count`` bytes (as the GPU would,
but synchronously); stream capture records work instead of doing it, ``cudaGraphLaunch`` replays it.
What it adds for tests: ``STATS`` counts copies whose host side is pageable (not from ``cudaMallocHost``),
captures and graph launches; ``enqueue(stream, fn)`` is how the simulated TensorRT puts kernels on a stream.

Knobs: ``STYLEFORGE_STUB_CUDA_NAME`` (default "StyleForge Sim GPU"), ``STYLEFORGE_STUB_CUDA_CC`` (default 8.9).
"""
from __future__ import annotations

import ctypes
import os
import threading

from .runtime import cudaError_t, cudaMemcpyKind, cudaStream_t

_lock = threading.RLock()
_device: dict[int, ctypes.Array] = {}   # base pointer -> buffer ("device" memory)
_pinned: dict[int, ctypes.Array] = {}   # base pointer -> buffer (cudaMallocHost)
_streams: dict[int, list | None] = {}   # stream -> recorded work while capturing, else None
_next_stream = [100]
STATS = {"pageable_copies": 0, "pinned_copies": 0, "captures": 0, "graph_launches": 0, "kernels": 0}
OK = cudaError_t.cudaSuccess
BAD = cudaError_t.cudaErrorInvalidValue


class cudaDeviceProp:
    def __init__(self):
        self.name = os.environ.get("STYLEFORGE_STUB_CUDA_NAME", "StyleForge Sim GPU").encode() + b"\x00" * 8
        cc = os.environ.get("STYLEFORGE_STUB_CUDA_CC", "8.9")
        self.major, self.minor = (int(x) for x in cc.split("."))
        self.multiProcessorCount = 4
        self.totalGlobalMem = 1 << 30


class _Graph:
    def __init__(self, work):
        self.work = list(work)


def reset_stats() -> None:
    for k in STATS:
        STATS[k] = 0


def _find(ptr: int, table: dict) -> bool:
    for base, buf in table.items():
        if base <= ptr < base + ctypes.sizeof(buf):
            return True
    return False


def enqueue(stream, fn) -> None:
    """Run `fn` on `stream` (now, or later from a graph if the stream is capturing)."""
    with _lock:
        work = _streams.get(int(stream)) if stream is not None else None
    if work is not None:
        work.append(fn)
    else:
        fn()


def cudaGetDeviceCount():
    return OK, 1


def cudaGetDevice():
    return OK, 0


def cudaSetDevice(device):
    return (OK,) if int(device) == 0 else (cudaError_t.cudaErrorInvalidDevice,)


def cudaGetDeviceProperties(device):
    return (OK, cudaDeviceProp()) if int(device) == 0 else (cudaError_t.cudaErrorInvalidDevice, None)


def cudaRuntimeGetVersion():
    return OK, 12090


def cudaDriverGetVersion():
    return OK, 12090


def cudaGetLastError():
    return (OK,)


def cudaMalloc(size):
    buf = ctypes.create_string_buffer(int(size))
    with _lock:
        _device[ctypes.addressof(buf)] = buf
    return OK, ctypes.addressof(buf)


def cudaFree(ptr):
    with _lock:
        return (OK,) if _device.pop(int(ptr), None) is not None else (BAD,)


def cudaMallocHost(size):
    buf = ctypes.create_string_buffer(int(size))
    with _lock:
        _pinned[ctypes.addressof(buf)] = buf
    return OK, ctypes.addressof(buf)


def cudaFreeHost(ptr):
    with _lock:
        return (OK,) if _pinned.pop(int(ptr), None) is not None else (BAD,)


def cudaStreamCreate():
    with _lock:
        _next_stream[0] += 1
        s = _next_stream[0]
        _streams[s] = None
    return OK, cudaStream_t(s)


def cudaStreamCreateWithFlags(flags):
    return cudaStreamCreate()


def cudaStreamDestroy(stream):
    with _lock:
        return (OK,) if _streams.pop(int(stream), "gone") != "gone" else (BAD,)


def cudaStreamSynchronize(stream):
    return (OK,) if int(stream) in _streams or int(stream) == 0 else (BAD,)


def cudaMemcpyAsync(dst, src, count, kind, stream):
    dst, src, count = int(dst), int(src), int(count)
    kind = cudaMemcpyKind(int(kind))
    with _lock:
        dev_dst, dev_src = _find(dst, _device), _find(src, _device)
        host = src if kind == cudaMemcpyKind.cudaMemcpyHostToDevice else dst
        if kind == cudaMemcpyKind.cudaMemcpyHostToDevice and not dev_dst or \
                kind == cudaMemcpyKind.cudaMemcpyDeviceToHost and not dev_src:
            return (BAD,)
        if kind in (cudaMemcpyKind.cudaMemcpyHostToDevice, cudaMemcpyKind.cudaMemcpyDeviceToHost):
            STATS["pinned_copies" if _find(host, _pinned) else "pageable_copies"] += 1
    enqueue(stream, lambda: ctypes.memmove(dst, src, count))
    return (OK,)


def cudaStreamBeginCapture(stream, mode):
    with _lock:
        if int(stream) not in _streams or _streams[int(stream)] is not None:
            return (BAD,)
        _streams[int(stream)] = []
    return (OK,)


def cudaStreamEndCapture(stream):
    with _lock:
        work = _streams.get(int(stream))
        if work is None:
            return cudaError_t.cudaErrorStreamCaptureInvalidated, None
        _streams[int(stream)] = None
        STATS["captures"] += 1
    return OK, _Graph(work)


def cudaGraphInstantiate(graph, flags=0):
    return OK, _Graph(graph.work)


def cudaGraphDestroy(graph):
    return (OK,)


def cudaGraphExecDestroy(graph):
    return (OK,)


def cudaGraphLaunch(graph, stream):
    STATS["graph_launches"] += 1
    for fn in graph.work:
        enqueue(stream, fn)
    return (OK,)
