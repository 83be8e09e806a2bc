"""TensorRT backend: runs an engine recorded in the bundle's manifest (``engines`` list, written by
``styleforge engine build``) with cuda-python for device memory and streams.

Import is lazy and failures are explicit: without the ``tensorrt`` and ``cuda-python`` packages,
or without an engine built for this GPU's compute capability and TensorRT version, the error
says which. Written to TensorRT 10/11's name-based I/O API (``set_input_shape``,
``set_tensor_address``, ``execute_async_v3``); no machine of this project has TensorRT, so this
path is checked statically and by the GPU user.
"""
from __future__ import annotations

import numpy as np

from ..errors import BundleError, StyleForgeError
from . import register_backend


def _modules():
    try:
        import tensorrt as trt
        from cuda.bindings import runtime as cudart
    except ImportError as e:
        raise StyleForgeError(f"backend 'tensorrt' needs the tensorrt and cuda-python packages ({e}); "
                              "see README 'GPU install'") from None
    return trt, cudart


def _check(result):
    """cuda-python returns (err, *values); raise on error, return the values."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise StyleForgeError(f"CUDA error {err}")
    return values[0] if len(values) == 1 else values


def compute_capability() -> str:
    _, cudart = _modules()
    dev = _check(cudart.cudaGetDevice())
    props = _check(cudart.cudaGetDeviceProperties(dev))
    return f"{props.major}.{props.minor}"


def select_engine(manifest, role: str, cc: str, trt_version: str):
    """The manifest's engine record for this graph role, GPU and TensorRT major.minor, or a clear error."""
    want = ".".join(trt_version.split(".")[:2])
    candidates = [e for e in manifest.engines if e.role == role]
    for e in candidates:
        if str(e.compute_capability) == cc and ".".join(str(e.tensorrt).split(".")[:2]) == want:
            return e
    have = ", ".join(f"{e.file} (sm {e.compute_capability}, TensorRT {e.tensorrt})" for e in candidates) or "none"
    raise BundleError(f"no TensorRT engine for graph {role!r} on compute capability {cc} with TensorRT {trt_version} "
                      f"(engines in bundle: {have}); build one with `styleforge engine build BUNDLE`")


def _register_styleforge_plugins() -> None:
    """Make the WhitenColor plugin known before deserialising (engines built with ``--wct plugin`` need it)."""
    try:
        from ...kernels.trt_plugin import register_plugin

        register_plugin()
    except (ImportError, StyleForgeError):
        pass  # engines without the plugin node do not need it; those with it fail to deserialise, clearly


class TensorRTSession:
    """One deserialised engine + execution context; numpy in, numpy out, on a private stream."""

    def __init__(self, bundle, graph: dict, **_):
        trt, cudart = _modules()
        self.trt, self.cudart = trt, cudart
        entry = select_engine(bundle.manifest, graph.role, compute_capability(), trt.__version__)
        _register_styleforge_plugins()
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(bundle.file(entry.file).read_bytes())
        if self.engine is None:
            raise BundleError(f"{entry.file}: TensorRT could not deserialise this engine (built by another TensorRT, "
                              "or it needs the styleforge::WhitenColor plugin, which needs tensorrt>=10.7)")
        self.context = self.engine.create_execution_context()
        self.stream = _check(cudart.cudaStreamCreate())
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = trt.TensorIOMode.INPUT
        self.input_names = [n for n in names if self.engine.get_tensor_mode(n) == mode]
        self.output_names = [n for n in names if self.engine.get_tensor_mode(n) != mode]
        self._buffers: dict[str, tuple[int, int]] = {}  # name -> (pointer, bytes)

    def _buffer(self, name: str, nbytes: int) -> int:
        ptr, size = self._buffers.get(name, (0, 0))
        if size < nbytes:
            if ptr:
                _check(self.cudart.cudaFree(ptr))
            ptr = _check(self.cudart.cudaMalloc(max(nbytes, 256)))
            self._buffers[name] = (ptr, nbytes)
        return ptr

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        trt, cudart = self.trt, self.cudart
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        for name in self.input_names:
            a = np.ascontiguousarray(feeds[name], dtype=trt.nptype(self.engine.get_tensor_dtype(name)))
            if not self.context.set_input_shape(name, a.shape):
                raise StyleForgeError(f"input {name} shape {a.shape} is outside the engine's optimisation profile")
            ptr = self._buffer(name, a.nbytes)
            _check(cudart.cudaMemcpyAsync(ptr, a.ctypes.data, a.nbytes, h2d, self.stream))
            self.context.set_tensor_address(name, ptr)
        outs = {}
        for name in self.output_names:
            shape = tuple(self.context.get_tensor_shape(name))
            outs[name] = np.empty(shape, dtype=trt.nptype(self.engine.get_tensor_dtype(name)))
            self.context.set_tensor_address(name, self._buffer(name, outs[name].nbytes))
        if not self.context.execute_async_v3(self.stream):
            raise StyleForgeError("TensorRT execution failed")
        for name, a in outs.items():
            _check(cudart.cudaMemcpyAsync(a.ctypes.data, self._buffers[name][0], a.nbytes, d2h, self.stream))
        _check(cudart.cudaStreamSynchronize(self.stream))
        return outs

    def __del__(self):
        cudart = getattr(self, "cudart", None)
        if cudart is None:
            return
        for ptr, _ in getattr(self, "_buffers", {}).values():
            cudart.cudaFree(ptr)
        if getattr(self, "stream", None) is not None:
            cudart.cudaStreamDestroy(self.stream)


@register_backend("tensorrt")
def tensorrt_backend(bundle, graph, **options):
    return TensorRTSession(bundle, graph, **options)


def _available() -> bool:
    try:
        import tensorrt  # noqa: F401
        from cuda.bindings import runtime  # noqa: F401
    except ImportError:
        return False
    return True


tensorrt_backend.available = _available
