"""cuda.bindings.driver as it behaves without libcuda: calls raise (real: cuda.pathfinder
DynamicLibNotFoundError, a RuntimeError subclass)."""
import enum as _enum


class DynamicLibNotFoundError(RuntimeError):
    pass


class CUresult(_enum.IntEnum):
    CUDA_SUCCESS = 0
    CUDA_ERROR_NO_DEVICE = 100


def __getattr__(name):
    if name.startswith("cu"):
        def _no_lib(*args, **kwargs):
            raise DynamicLibNotFoundError('"cuda" is an NVIDIA driver library and can only be found via system '
                                          'search. Ensure the NVIDIA display driver is installed.')
        _no_lib.__name__ = name
        return _no_lib
    raise AttributeError(name)
