"""cuda.bindings.runtime as it behaves without a driver (see package docstring); with
``STYLEFORGE_STUB_CUDA=sim``, a simulated GPU instead (see _sim.py)."""
import enum as _enum
import os as _os


class cudaError_t(_enum.IntEnum):
    cudaSuccess = 0
    cudaErrorInvalidValue = 1
    cudaErrorMemoryAllocation = 2
    cudaErrorInitializationError = 3
    cudaErrorInsufficientDriver = 35
    cudaErrorNoDevice = 100
    cudaErrorInvalidDevice = 101
    cudaErrorStreamCaptureInvalidated = 901

    def __str__(self):  # the real enums print like their repr
        return f"<cudaError_t.{self.name}: {int(self)}>"


_NAMES = {cudaError_t.cudaErrorInsufficientDriver: b"CUDA driver version is insufficient for CUDA runtime version",
          cudaError_t.cudaErrorNoDevice: b"no CUDA-capable device is detected"}


class cudaMemcpyKind(_enum.IntEnum):
    cudaMemcpyHostToHost = 0
    cudaMemcpyHostToDevice = 1
    cudaMemcpyDeviceToHost = 2
    cudaMemcpyDeviceToDevice = 3
    cudaMemcpyDefault = 4


class cudaStreamCaptureMode(_enum.IntEnum):
    cudaStreamCaptureModeGlobal = 0
    cudaStreamCaptureModeThreadLocal = 1
    cudaStreamCaptureModeRelaxed = 2


cudaHostAllocDefault, cudaHostAllocPortable, cudaHostAllocMapped, cudaHostAllocWriteCombined = 0, 1, 2, 4
cudaStreamNonBlocking = 1


class cudaStream_t(int):
    pass


class cudaDeviceProp:
    def __init__(self):
        self.name = b""
        self.major = self.minor = 0
        self.multiProcessorCount = 0
        self.totalGlobalMem = 0


_ERR = cudaError_t.cudaErrorInsufficientDriver


def cudaGetErrorName(err):
    return cudaError_t.cudaSuccess, cudaError_t(int(err)).name.encode()


def cudaGetErrorString(err):
    return cudaError_t.cudaSuccess, _NAMES.get(cudaError_t(int(err)), b"unknown error")


def cudaRuntimeGetVersion():
    return cudaError_t.cudaSuccess, 12090


def cudaDriverGetVersion():
    return cudaError_t.cudaSuccess, 0


if _os.environ.get("STYLEFORGE_STUB_CUDA") == "sim":
    from ._sim import *  # noqa: E402,F401,F403
    from ._sim import STATS, cudaDeviceProp, enqueue, reset_stats  # noqa: E402,F401


def __getattr__(name):
    if name.startswith("cuda"):
        def _no_driver(*args, **kwargs):
            return _ERR, None
        _no_driver.__name__ = name
        return _no_driver
    raise AttributeError(name)
