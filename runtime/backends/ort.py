"""ONNX Runtime backends (CPU, and CUDA where onnxruntime-gpu is installed)."""
from __future__ import annotations

import numpy as np

from ..errors import BundleError
from . import register_backend


class OrtSession:
    """One ONNX graph in an onnxruntime InferenceSession with every graph optimisation on."""

    def __init__(self, bundle, graph: dict, *, providers: list[str], threads: int | None = None, mem_arena: bool = True):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        opts.enable_cpu_mem_arena = bool(mem_arena)  # off for tiling: the arena keeps a block per tile shape
        if threads:
            opts.intra_op_num_threads = int(threads)
        path = bundle.file(graph.file)
        try:
            self.session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        except Exception as e:  # onnxruntime raises its own exception types
            raise BundleError(f"{path}: onnxruntime cannot load this graph ({str(e).splitlines()[0]})") from None
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.providers = self.session.get_providers()

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feeds = {k: v for k, v in feeds.items() if k in self.input_names}
        outs = self.session.run(self.output_names, feeds)
        return dict(zip(self.output_names, outs))


@register_backend("ort-cpu")
def ort_cpu(bundle, graph, *, threads: int | None = None, mem_arena: bool = True, **_):
    return OrtSession(bundle, graph, providers=["CPUExecutionProvider"], threads=threads, mem_arena=mem_arena)


@register_backend("ort-cuda")
def ort_cuda(bundle, graph, *, threads: int | None = None, mem_arena: bool = True, **_):
    return OrtSession(bundle, graph, providers=["CUDAExecutionProvider", "CPUExecutionProvider"], threads=threads,
                      mem_arena=mem_arena)


def _cuda_available() -> bool:
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


ort_cuda.available = _cuda_available
