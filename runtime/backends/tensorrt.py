"""The ``tensorrt`` runner: runs an engine recorded in the bundle (``styleforge engine build``) with
TensorRT 10/11's name-based API (``set_input_shape``, ``set_tensor_address``, ``execute_async_v3``) and
cuda-python for streams and memory.

- ``supports``: TensorRT and a GPU are really there (``cudaGetDeviceCount``, not an import), the bundle has
  an engine for this graph that loads with this exact TensorRT on this GPU (runtime/backends/engines.py),
  and a plugin the engine needs can be registered. The plugin is registered only for engines that need it.
- Threads (policy ``context-pool``): TensorRT requires that "each execution context in concurrent use must
  use a separate optimization profile" (NvInferRuntime.h). Engines are built with each shape bucket copied
  ``contexts`` times; context k of the pool only uses copy k of each bucket (profile b·contexts + k), with
  its own stream and buffers. A run checks a context out; up to ``contexts`` runs go at once, more wait.
  Engines without dynamic inputs share their one profile, so any number of contexts (option ``contexts``,
  default 2) may run.
- Memory: inputs are staged in pinned host buffers (``cudaMallocHost``) so the async copies are real; device
  and pinned buffers grow on demand and are reused; outputs are copied out before the context is returned.
- Shapes: the call's shapes pick the tightest bucket (profile) that takes them; a batch above that bucket's
  maximum is split into chunks of the maximum and the outputs concatenated.
- ``cuda_graph=True``: per context and shape, the first run is the warm-up, the second captures
  ``execute_async_v3`` in a CUDA graph (trtexec's recipe), later ones replay it; a capture that fails (e.g. a
  plugin that allocates) falls back to plain enqueues for that shape. Worth it for repeated static shapes.
"""
from __future__ import annotations

import logging
import queue
import threading

import numpy as np

from ..errors import BundleError, StyleForgeError
from . import plugin_roles, register_runner
from .base import Runner, Verdict
from .cuda import CUDA_PYTHON_NEED, DeviceBuffer, PinnedBuffer, check, cudart, device_info, probe_device
from .engines import select_engine
from .profiles import choose_bucket, format_bucket, is_batch_dim

log = logging.getLogger("styleforge.runtime.backends")
TRT_NEED = "tensorrt>=10.6 (pip install 'styleforge[tensorrt]')"
DEFAULT_STATIC_CONTEXTS = 2


def _trt():
    try:
        import tensorrt as trt
    except ImportError as e:
        raise StyleForgeError(f"needs {TRT_NEED}; `import tensorrt` failed ({e})") from None
    return trt


def engine_plugins(manifest, record) -> list[str]:
    """Plugin ids the engine needs registered before it deserialises (older records: from the graph's role)."""
    if record.plugins:
        return list(record.plugins)
    if record.role in plugin_roles(manifest):
        from ...kernels.trt_plugin import PLUGIN_ID

        return [PLUGIN_ID]
    return []


def plugin_support(plugins: list[str]) -> Verdict:
    """Whether these plugins can be registered with the installed TensorRT (without registering them)."""
    if not plugins:
        return Verdict.yes()
    from ...kernels.trt_plugin import PLUGIN_ID, tensorrt_plugin_module

    unknown = [p for p in plugins if p != PLUGIN_ID]
    if unknown:
        return Verdict.no(f"engine needs plugin(s) {', '.join(unknown)} that StyleForge does not provide")
    try:
        tensorrt_plugin_module()
    except ImportError as e:
        return Verdict.no(f"engine needs the {PLUGIN_ID} plugin, which needs tensorrt>=10.6 with tensorrt.plugin ({e})")
    return Verdict.yes()


def register_plugins(plugins: list[str]) -> None:
    if plugins:
        from ...kernels.trt_plugin import register_plugin

        register_plugin()  # StyleForgeError naming TensorRT's complaint if it fails


HOST_CODE_FLAG = "--allow-engine-host-code"


def host_code_verdict(record, allowed: bool) -> Verdict:
    """Whether an engine may load: a version-compatible one runs its embedded host code, so it needs the opt-in."""
    if record.version_compatible and not allowed:
        return Verdict.no(f"engine {record.file} is version-compatible: it runs host code from the bundle, which "
                          f"needs {HOST_CODE_FLAG} (allow_engine_host_code=True) for bundles you trust")
    return Verdict.yes()


class TrtEngineLoader:
    """Deserialises the bundle's engine for one graph (a runner's loader): picks the record that loads on this
    GPU with this TensorRT, registers the plugins it needs, and allows engine host code only when
    `allow_engine_host_code` and the record is version-compatible. Returns (record, runtime, engine)."""

    def __init__(self, bundle, role: str, *, device_id: int | None = None, allow_engine_host_code: bool = False):
        self.bundle, self.role, self.device_id = bundle, role, device_id
        self.allow_engine_host_code = bool(allow_engine_host_code)

    def __call__(self):
        trt = _trt()
        info = device_info(self.device_id)
        record = select_engine(self.bundle.manifest, self.role, info.compute_capability, trt.__version__, info.name)
        verdict = host_code_verdict(record, self.allow_engine_host_code)
        if not verdict:
            raise StyleForgeError(f"tensorrt: {verdict.why}")
        register_plugins(engine_plugins(self.bundle.manifest, record))
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        if record.version_compatible:  # opted in above: this plan runs its embedded lean runtime
            runtime.engine_host_code_allowed = True
        try:
            engine = runtime.deserialize_cuda_engine(self.bundle.file(record.file).read_bytes())
        except Exception as e:  # TensorRT raises its own types (or, without engine support, RuntimeError)
            raise StyleForgeError(f"{record.file}: TensorRT could not deserialise this engine ({e})") from None
        if engine is None:
            raise BundleError(f"{record.file}: TensorRT could not deserialise this engine (see TensorRT's log above)")
        return record, runtime, engine


class _Context:
    """One execution context of the pool with everything it uses alone: stream, buffers, profile, graphs."""

    def __init__(self, runner: "TensorRTRunner", index: int):
        rt = cudart()
        self.index = index
        self.context = runner.engine.create_execution_context()
        if self.context is None:
            raise StyleForgeError("TensorRT could not create an execution context (out of GPU memory?)")
        self.stream = check(rt.cudaStreamCreate(), "cudaStreamCreate")
        self.profile: int | None = None
        self.host = {n: PinnedBuffer() for n in runner.input_names + runner.output_names}
        self.dev = {n: DeviceBuffer() for n in runner.input_names + runner.output_names}
        self.graphs: dict = {}     # (profile, shapes, pointers) -> graph exec, or False (not capturable)
        self.warm: set = set()
        if runner.dynamic:  # claim this context's own profile at once (a new context may hold profile 0 implicitly)
            self.use_profile(runner.profile_index(0, index))

    def use_profile(self, index: int) -> None:
        if self.profile == index:
            return
        if not self.context.set_optimization_profile_async(index, int(self.stream)):
            raise StyleForgeError(f"TensorRT refused optimisation profile {index} for execution context {self.index}")
        check(cudart().cudaStreamSynchronize(self.stream), "cudaStreamSynchronize")
        self.profile = index

    def drop_graphs(self) -> None:
        rt = cudart()
        for g in self.graphs.values():
            if g is not False:
                rt.cudaGraphExecDestroy(g)
        self.graphs.clear()
        self.warm.clear()

    def close(self) -> None:
        rt = cudart()
        rt.cudaStreamSynchronize(self.stream)
        self.drop_graphs()
        for b in list(self.host.values()) + list(self.dev.values()):
            b.free()
        rt.cudaStreamDestroy(self.stream)
        self.context = None


@register_runner
class TensorRTRunner(Runner):
    """A TensorRT engine of the bundle. Options: ``device_id``, ``cuda_graph`` (bool), ``contexts`` (pool size;
    at most the engine's per-bucket copies for dynamic engines)."""

    name = "tensorrt"
    auto_rank = 10
    device = "cuda"
    thread_policy = "context-pool"
    needs = ("NVIDIA GPU + driver", TRT_NEED, CUDA_PYTHON_NEED,
             "an engine in the bundle built for this GPU and this exact TensorRT (styleforge engine build)")

    @classmethod
    def probe(cls) -> Verdict:
        try:
            trt = _trt()
        except StyleForgeError as e:
            return Verdict.no(str(e))
        dev = probe_device()
        if not dev:
            return Verdict.no(f"tensorrt {trt.__version__} imports, but there is no usable GPU: {dev.why}")
        return Verdict.yes(f"TensorRT {trt.__version__} on {dev.why}")

    @classmethod
    def _supports(cls, bundle, role: str, options: dict) -> Verdict:
        """An engine for this graph that loads here; its host code only with ``allow_engine_host_code``; its plugins."""
        trt, info = _trt(), device_info()
        try:
            record = select_engine(bundle.manifest, role, info.compute_capability, trt.__version__, info.name)
        except BundleError as e:
            return Verdict.no(str(e))
        host = host_code_verdict(record, bool(options.get("allow_engine_host_code")))
        if not host:
            return host
        plugins = plugin_support(engine_plugins(bundle.manifest, record))
        if not plugins:
            return plugins
        return Verdict.yes(f"engine {record.file}")

    def __init__(self, bundle, role: str, *, device_id: int | None = None, cuda_graph: bool = False,
                 contexts: int | None = None, threads=None, allow_engine_host_code: bool = False, **options):
        super().__init__(bundle, role, **options)
        self.device_id, self.cuda_graph, self.max_contexts = device_id, bool(cuda_graph), contexts
        self.engine = None
        self._contexts: list[_Context] = []
        if self.loader is None:
            self.loader = TrtEngineLoader(bundle, role, device_id=device_id,
                                          allow_engine_host_code=allow_engine_host_code)

    # --- lifecycle -------------------------------------------------------------------------------------
    def activate_impl(self) -> None:
        trt, rt = _trt(), cudart()
        if self.device_id is not None:
            check(rt.cudaSetDevice(int(self.device_id)), f"cudaSetDevice({self.device_id})")
        record, self.trt_runtime, engine = self.load()
        self.record, self.engine = record, engine
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        self.input_names = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.output_names = [n for n in names if n not in self.input_names]
        self.dtypes = {n: np.dtype(trt.nptype(engine.get_tensor_dtype(n))) for n in names}
        shapes = {n: tuple(engine.get_tensor_shape(n)) for n in self.input_names}
        self.dynamic = any(d < 0 for s in shapes.values() for d in s)
        specs = {t.name: t for t in self.graph.inputs}
        self.batched = {n for n, s in shapes.items() if s and s[0] < 0 and n in specs and specs[n].shape
                        and is_batch_dim(0, specs[n].shape[0])}
        nprof = int(engine.num_optimization_profiles)
        if self.dynamic:
            copies = record.contexts if record.profiles and nprof == len(record.profiles) * record.contexts else 1
            self.copies = copies
            dyn = [n for n, s in shapes.items() if any(d < 0 for d in s)]  # static inputs are not in the profiles
            self.buckets = [{n: tuple(tuple(int(d) for d in dims) for dims in engine.get_tensor_profile_shape(n, b * copies))
                             for n in dyn} for b in range(nprof // copies)]
            pool = copies
        else:
            self.copies, self.buckets = 1, []
            pool = DEFAULT_STATIC_CONTEXTS
        self.pool_size = max(1, min(pool, self.max_contexts or pool))
        self._free: queue.LifoQueue = queue.LifoQueue()
        self._make_lock = threading.Lock()
        self._contexts = []

    def deactivate_impl(self) -> None:
        for c in self._contexts:
            try:
                c.close()
            except Exception:
                pass
        self._contexts = []
        self.engine = None

    def profile_index(self, bucket: int, copy: int) -> int:
        return bucket * self.copies + copy

    def _checkout(self) -> _Context:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        with self._make_lock:
            if len(self._contexts) < self.pool_size:
                ctx = _Context(self, len(self._contexts))
                self._contexts.append(ctx)
                return ctx
        return self._free.get()

    # --- inference -------------------------------------------------------------------------------------
    def run_impl(self, feeds: dict) -> dict:
        arrays = {n: np.ascontiguousarray(feeds[n], dtype=self.dtypes[n]) for n in self.input_names}
        shapes = {n: a.shape for n, a in arrays.items()}
        bucket, chunks = 0, [None]
        if self.dynamic:
            bucket = choose_bucket(self.buckets, shapes, self.batched)
            if bucket is None:
                raise StyleForgeError(f"input shapes {', '.join(f'{n}={list(s)}' for n, s in shapes.items())} fit none "
                                      f"of the engine's profiles ({' | '.join(format_bucket(b) for b in self.buckets)}); "
                                      "rebuild it with --shapes covering them")
            if self.batched:
                n = arrays[next(iter(self.batched))].shape[0]
                lo = max(self.buckets[bucket][k][0][0] for k in self.batched)
                hi = min(self.buckets[bucket][k][2][0] for k in self.batched)
                if n > hi:
                    chunks = [(s, min(s + hi, n)) for s in range(0, n, hi)]
                    if chunks[-1][1] - chunks[-1][0] < lo:
                        raise StyleForgeError(f"batch {n} cannot be split into chunks of {lo}..{hi} "
                                              "(the profile's batch range)")
        ctx = self._checkout()
        try:
            parts = [self._run_chunk(ctx, bucket, arrays if c is None else
                                     {k: (a[c[0]:c[1]] if k in self.batched else a) for k, a in arrays.items()})
                     for c in chunks]
        finally:
            self._free.put(ctx)
        if len(parts) == 1:
            return parts[0]
        return {k: np.concatenate([p[k] for p in parts], axis=0) for k in self.output_names}

    def _run_chunk(self, ctx: _Context, bucket: int, arrays: dict) -> dict:
        rt = cudart()
        h2d, d2h = rt.cudaMemcpyKind.cudaMemcpyHostToDevice, rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        c = ctx.context
        if self.dynamic:
            ctx.use_profile(self.profile_index(bucket, ctx.index))
        before = {n: b.ptr for n, b in ctx.dev.items()}
        for n, a in arrays.items():
            if not c.set_input_shape(n, a.shape):
                raise StyleForgeError(f"input {n} shape {list(a.shape)} is outside the engine's optimisation profile "
                                      f"{ctx.profile}")
            host = ctx.host[n].view(a.shape, a.dtype)
            np.copyto(host, a)
            ptr = ctx.dev[n].ensure(a.nbytes)
            check(rt.cudaMemcpyAsync(ptr, ctx.host[n].ptr, a.nbytes, h2d, ctx.stream), "cudaMemcpyAsync (to the GPU)")
            c.set_tensor_address(n, ptr)
        out_shapes = {}
        for n in self.output_names:
            shape = tuple(int(d) for d in c.get_tensor_shape(n))
            if any(d < 0 for d in shape):
                raise StyleForgeError(f"TensorRT could not infer the shape of output {n} ({list(shape)})")
            out_shapes[n] = shape
            c.set_tensor_address(n, ctx.dev[n].ensure(int(np.prod(shape, dtype=np.int64)) * self.dtypes[n].itemsize))
        if any(ctx.dev[n].ptr != p for n, p in before.items() if p):
            ctx.drop_graphs()  # captured graphs hold the old addresses
        key = (ctx.profile, tuple(a.shape for a in arrays.values()), tuple(b.ptr for b in ctx.dev.values()))
        if not (self.cuda_graph and self._launch_graph(ctx, key)):
            if not c.execute_async_v3(int(ctx.stream)):
                raise StyleForgeError(f"TensorRT execution of {self.record.file} failed (see TensorRT's log above)")
        views = {}
        for n, shape in out_shapes.items():
            views[n] = ctx.host[n].view(shape, self.dtypes[n])
            check(rt.cudaMemcpyAsync(ctx.host[n].ptr, ctx.dev[n].ptr, views[n].nbytes, d2h, ctx.stream),
                  "cudaMemcpyAsync (from the GPU)")
        check(rt.cudaStreamSynchronize(ctx.stream), "cudaStreamSynchronize")
        return {n: v.copy() for n, v in views.items()}  # the pinned buffers are reused by the next run

    def _launch_graph(self, ctx: _Context, key) -> bool:
        """Replay (or capture, on the second run of `key`) a CUDA graph of the enqueue; False: enqueue normally."""
        rt = cudart()
        graph = ctx.graphs.get(key)
        if graph is False:
            return False
        if graph is None:
            if key not in ctx.warm:
                ctx.warm.add(key)  # trtexec: run once before capturing, so initialisation is not captured
                return False
            graph = ctx.graphs[key] = self._capture(ctx)
            if graph is False:
                return False
        check(rt.cudaGraphLaunch(graph, ctx.stream), "cudaGraphLaunch")
        return True

    def _capture(self, ctx: _Context):
        rt = cudart()
        mode = rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        check(rt.cudaStreamBeginCapture(ctx.stream, mode), "cudaStreamBeginCapture")
        ok = ctx.context.execute_async_v3(int(ctx.stream))
        err, graph = rt.cudaStreamEndCapture(ctx.stream)
        if not ok or int(err) != 0 or graph is None:
            rt.cudaGetLastError()  # clear the capture error (trtexec's endCaptureOnError)
            log.warning("tensorrt: CUDA graph capture failed for %s; running without a graph for this shape",
                        self.record.file)
            return False
        err, gexec = rt.cudaGraphInstantiate(graph, 0)
        rt.cudaGraphDestroy(graph)
        if int(err) != 0:
            log.warning("tensorrt: cudaGraphInstantiate failed; running without a graph for this shape")
            return False
        return gexec

    @property
    def providers(self) -> list[str]:
        rec = getattr(self, "record", None)
        return [f"tensorrt:{rec.file}"] if rec is not None else [self.name]
