"""The ``openvino`` runner: Intel's OpenVINO on the CPU (extra ``styleforge[openvino]``).

It reads the bundle's ONNX graph itself (OpenVINO's ONNX frontend; no conversion step, nothing cached on disk)
and compiles it for the CPU with these options:

- ``threads``: ``INFERENCE_NUM_THREADS`` (default: OpenVINO's, all cores);
- ``hint``: ``latency`` | ``throughput`` (``PERFORMANCE_HINT``; throughput keeps several infer requests, so that
  concurrent ``run`` calls overlap);
- ``precision``: ``f32`` | ``bf16`` | ``f16`` (``INFERENCE_PRECISION_HINT``, the precision floating-point layers
  compute in). OpenVINO honours ``bf16`` only on CPUs with native bf16 (AVX512_BF16 / AMX) and otherwise
  compiles f32: :attr:`effective_precision` is what it really chose, and validation picks its tolerance profile
  from that (bf16 is not fp32: ``bf16``'s own profile);
- ``dynamic``: compile once with dynamic H×W (False, the default: a static compilation per input shape, kept for
  the :data:`MAX_SHAPES` most recent shapes — OpenVINO's CPU kernels are faster on static shapes).

int8 bundles (QuantizeLinear/DequantizeLinear pairs around convolutions, ``styleforge convert --precision int8``)
run in int8: OpenVINO's low-precision transformations fold the pairs into int8 kernels. Thread policy
``context-pool``: each compiled shape owns a pool of infer requests (OpenVINO's optimal number for the hint);
a run checks one out. Images go through runtime/io_plan.py like every runner's (the interfaces do it; this runner
sees tensors only).
"""
from __future__ import annotations

import functools
import queue
import threading
from collections import OrderedDict

import numpy as np

from ..errors import BundleError, StyleForgeError
from . import register_runner
from .base import Runner, Verdict

HINTS = {"latency": "LATENCY", "throughput": "THROUGHPUT"}
PRECISIONS = ("f32", "bf16", "f16")
#: static compilations kept per runner (each holds its own buffers; an older shape is recompiled on return)
MAX_SHAPES = 4
INSTALL = "pip install 'styleforge[openvino]'"


def _ov():
    import openvino

    return openvino


@functools.lru_cache(maxsize=1)
def _core():
    """One OpenVINO Core per process (it holds the plugins; creating it costs ~50 ms)."""
    return _ov().Core()


@functools.lru_cache(maxsize=1)
def cpu_capabilities() -> tuple[str, ...]:
    """OpenVINO's ``OPTIMIZATION_CAPABILITIES`` of the CPU (``FP32``, ``INT8``, ``BF16`` where native …)."""
    return tuple(_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def native_bf16() -> bool:
    """Whether OpenVINO computes bf16 natively on this CPU (else a ``bf16`` hint compiles f32)."""
    return "BF16" in cpu_capabilities()


@functools.lru_cache(maxsize=64)
def unsupported_ops(path: str, digest: str) -> tuple[str, ...]:
    """Operators of the ONNX graph at `path` that OpenVINO's CPU plugin cannot run (empty: it runs them all).
    `digest` (the file's sha256) keys the cache. Conversion failures name the ONNX operator; a converted graph is
    asked with ``query_model``."""
    core = _core()
    try:
        model = core.read_model(path)
    except Exception as e:  # OpenVINO raises its own RuntimeError subclasses
        text = str(e)
        marker = "No conversion rule found for operations:"
        if marker in text:
            ops = text.split(marker, 1)[1].splitlines()[0]
            return tuple(o.strip() for o in ops.split(",") if o.strip())
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return (f"(the ONNX frontend failed: {lines[-1] if lines else type(e).__name__})",)
    supported = core.query_model(model, "CPU")
    return tuple(sorted({op.get_type_name() for op in model.get_ordered_ops()
                         if op.get_friendly_name() not in supported and op.get_type_name() not in ("Parameter", "Result", "Constant")}))


def effective_hint(precision: str | None) -> str:
    """The precision hint OpenVINO will apply on this CPU for a requested one (``bf16`` → ``f32`` without native bf16)."""
    p = precision or "f32"
    if p == "bf16" and not native_bf16():
        return "f32"
    return p


class OvModelLoader:
    """Loader: the graph `role` of `bundle` read by OpenVINO's ONNX frontend (an ``openvino.Model``, not compiled;
    the runner compiles it per input shape). From ``bundle.graph_bytes`` (hash and external data checked now); a
    graph with external data is then read from its checked path, since OpenVINO resolves external files only
    relative to the graph's file."""

    def __init__(self, bundle, role: str):
        self.bundle, self.role = bundle, role
        self.path = bundle.file(bundle.graph(role).file)

    def __call__(self):
        from ..onnx_refs import external_data_locations

        data = self.bundle.graph_bytes(self.role)
        try:
            return _core().read_model(str(self.path) if external_data_locations(data) else data)
        except Exception as e:  # OpenVINO raises its own RuntimeError subclasses
            lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
            raise BundleError(f"{self.path}: OpenVINO cannot read this graph ({lines[-1] if lines else type(e).__name__})") from None


class _Compiled:
    """One compiled graph (one input-shape signature) and its pool of infer requests."""

    def __init__(self, compiled, output_names: list[str]):
        self.compiled = compiled
        n = max(1, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        self.pool: queue.LifoQueue = queue.LifoQueue()
        for _ in range(n):
            self.pool.put(compiled.create_infer_request())
        self.size = n
        self.ports = [compiled.output(name) for name in output_names]

    def run(self, feeds: dict) -> list[np.ndarray]:
        request = self.pool.get()
        try:
            request.infer(feeds)
            return [np.array(request.get_tensor(port).data, copy=True) for port in self.ports]
        finally:
            self.pool.put(request)


@register_runner
class OpenVinoRunner(Runner):
    """OpenVINO on the CPU. Options: ``threads``, ``hint`` (latency|throughput), ``precision`` (f32|bf16|f16),
    ``dynamic`` (see the module docstring); options meant for other runners are ignored."""

    name = "openvino"
    needs = (f"openvino ({INSTALL})",)
    thread_policy = "context-pool"
    refuses_plugin_graphs = True  # TensorRT plugin graphs: no, as on ONNX Runtime
    #: after ort-cpu (the base install and reference runner), though it measured 1.1-1.4x faster on fp32 graphs on the
    #: loaded 2-core EPYC (docs/deploy.md "Tuning"); a bundle's tuning record puts it first where `tune` measured it so
    auto_rank = 95

    @classmethod
    def probe(cls) -> Verdict:
        try:
            ov = _ov()
        except ImportError as e:
            return Verdict.no(f"openvino is not importable ({e}); {INSTALL}")
        try:
            devices = _core().available_devices
        except Exception as e:
            return Verdict.no(f"openvino {ov.__version__} cannot start its CPU plugin ({str(e).splitlines()[0]})")
        if "CPU" not in devices:
            return Verdict.no(f"openvino {ov.__version__} sees no CPU device (devices: {', '.join(devices) or 'none'})")
        return Verdict.yes(f"openvino {ov.__version__}")

    @classmethod
    def _supports(cls, bundle, role: str, options: dict) -> Verdict | None:
        """No for a graph with an operator OpenVINO's CPU plugin cannot run."""
        graph = bundle.graph(role)
        ops = unsupported_ops(str(bundle.file(graph.file)), bundle.manifest.files.get(graph.file, ""))
        if ops:
            return Verdict.no(f"OpenVINO {_ov().__version__} cannot run operator(s) {', '.join(ops)} of graph {role!r}")
        return None

    def __init__(self, bundle, role: str, *, threads: int | None = None, hint: str = "latency",
                 precision: str | None = None, dynamic: bool = False, **options):
        super().__init__(bundle, role, **options)
        if hint not in HINTS:
            raise StyleForgeError(f"openvino: hint must be one of {', '.join(HINTS)}, got {hint!r}")
        if precision is not None and precision not in PRECISIONS:
            raise StyleForgeError(f"openvino: precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.threads, self.hint, self.precision_hint, self.dynamic = threads, hint, precision, bool(dynamic)
        self._model = None
        self._compiled: OrderedDict[tuple, _Compiled] = OrderedDict()
        self._compile_lock = threading.Lock()
        self.effective_precision: str | None = None
        if self.loader is None:
            self.loader = OvModelLoader(bundle, role)

    def config(self) -> dict[str, str]:
        """The compile options (OpenVINO property names)."""
        cfg = {"PERFORMANCE_HINT": HINTS[self.hint]}
        if self.threads:
            cfg["INFERENCE_NUM_THREADS"] = str(int(self.threads))
        if self.precision_hint:
            cfg["INFERENCE_PRECISION_HINT"] = self.precision_hint
        return cfg

    def activate_impl(self) -> None:
        self._model = self.load()
        self.input_names = [p.get_any_name() for p in self._model.inputs]
        self.output_names = [p.get_any_name() for p in self._model.outputs]
        if self.dynamic:
            self._compile(None)

    def deactivate_impl(self) -> None:
        self._compiled.clear()
        self._model = None

    def _compile(self, shapes: tuple | None) -> _Compiled:
        """The compilation for these input shapes (None: dynamic), compiled once and kept (LRU of MAX_SHAPES)."""
        found = self._compiled.get(shapes)
        if found is not None:
            return found
        with self._compile_lock:
            if shapes not in self._compiled:
                model = self._model
                if shapes is not None:
                    model = self._model.clone()
                    model.reshape({name: list(shape) for name, shape in zip(self.input_names, shapes)})
                try:
                    compiled = _core().compile_model(model, "CPU", self.config())
                except Exception as e:
                    first = (str(e).splitlines() or [type(e).__name__])[0]
                    raise StyleForgeError(f"openvino: cannot compile graph {self.role!r} for shapes {shapes}: {first}") from None
                self.effective_precision = compiled.get_property("INFERENCE_PRECISION_HINT").to_string()
                self._compiled[shapes] = _Compiled(compiled, self.output_names)
                while len(self._compiled) > MAX_SHAPES:
                    self._compiled.popitem(last=False)
            return self._compiled[shapes]

    def run_impl(self, feeds: dict) -> dict:
        key = None if self.dynamic else tuple(tuple(np.shape(feeds[n])) for n in self.input_names)
        compiled = self._compile(key)
        if key is not None:
            with self._compile_lock:  # most recently used: the last one the LRU drops
                if key in self._compiled:
                    self._compiled.move_to_end(key)
        try:
            outs = compiled.run(feeds)
        except Exception as e:
            raise StyleForgeError(f"{self.name}: graph {self.role!r} failed: {(str(e).splitlines() or [''])[0]}") from None
        return dict(zip(self.output_names, outs))

    @property
    def precision_used(self) -> str:
        """The floating-point precision the compiled graph computes in (``f32``, ``bf16``, ``f16``)."""
        if self.effective_precision:
            return self.effective_precision
        return effective_hint(self.precision_hint)

    @property
    def providers(self) -> list[str]:
        return [f"OpenVINO CPU ({self.hint}, {self.precision_used})"]
