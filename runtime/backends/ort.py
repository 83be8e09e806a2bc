"""ONNX Runtime runners: ``ort-cpu``; ``ort-cuda`` (onnxruntime-gpu's CUDA provider); ``ort-trt`` (its
TensorRT provider, engines compiled by ONNX Runtime and cached in a folder you choose).

GPU runners run every call through an IOBinding (one per call, so the shared session stays thread-safe:
ONNX Runtime documents ``InferenceSession.run`` as thread-safe): numpy inputs are bound as CPU inputs,
``OrtValue`` inputs as they are (device-resident chaining), outputs are allocated on the runner's device.
``run(feeds)`` copies them to numpy; ``run_device(feeds)`` (every ORT runner) returns the ``OrtValue``s
where they are. ``ort-cpu``'s ``run`` is the plain ``session.run``.

No silent CPU fallback: ONNX Runtime's own retry-on-CPU is disabled (``enable_fallback=0``), and a GPU
runner checks ``session.get_providers()`` after creating the session; when its provider is not active it
raises StyleForgeError naming the cause (the CPU build of onnxruntime, or the shared library that failed
to load, from the loader's own message). GPU runners also read where ONNX Runtime placed the nodes (its
"Node placements" log at session creation, :func:`node_placement`): ``ort-trt`` on which TensorRT took no
node is an error (a reason under ``auto``); nodes ``ort-cuda`` left on the CPU are kept in ``cpu_nodes`` and
reported by ``doctor BUNDLE`` and validation reports (``Runner.notes()``).

Sessions are built by :class:`OrtSessionLoader` from ``bundle.graph_bytes(role)`` (the one read of a graph's
bytes; external data is looked up beside the graph file).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import re
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from ..errors import BundleError, StyleForgeError
from . import register_runner
from .base import Runner, Verdict

#: onnxruntime-gpu and onnxruntime install the same `onnxruntime` module: only the GPU build may remain
GPU_ORT_INSTALL = "pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu"
PROVIDER_LIBS = {"CUDAExecutionProvider": "onnxruntime_providers_cuda",
                 "TensorrtExecutionProvider": "onnxruntime_providers_tensorrt"}


def _ort():
    import onnxruntime

    return onnxruntime


def provider_library(provider: str) -> Path:
    """Where onnxruntime keeps the shared library of `provider`."""
    lib = PROVIDER_LIBS[provider]
    name = f"{lib}.dll" if platform.system() == "Windows" else f"lib{lib}.so"
    return Path(_ort().__file__).parent / "capi" / name


def _preload_gpu_libraries() -> None:
    """Let onnxruntime find CUDA/cuDNN from the nvidia-* pip wheels (``onnxruntime.preload_dlls``, 1.21+)."""
    ort = _ort()
    if hasattr(ort, "preload_dlls"):
        try:
            ort.preload_dlls()
        except Exception:
            pass


def provider_status(provider: str) -> Verdict:
    """Whether `provider` can be active here, as far as the libraries tell: not in this onnxruntime build, or
    its shared library fails to load (the dynamic loader's message names the missing library), or it loads
    (then only a session can tell whether the GPU and driver work)."""
    ort = _ort()
    if provider not in ort.get_available_providers():
        return Verdict.no(f"onnxruntime {ort.__version__} has no {provider} (this is the CPU build; for GPUs: "
                          f"{GPU_ORT_INSTALL})")
    lib = provider_library(provider)
    if not lib.exists():
        return Verdict.no(f"{lib.name} is missing from {lib.parent} (a broken onnxruntime-gpu install; reinstall it)")
    _preload_gpu_libraries()
    shared = lib.with_name(lib.name.replace(PROVIDER_LIBS[provider], "onnxruntime_providers_shared"))
    try:
        if shared.exists():
            ctypes.CDLL(str(shared), mode=getattr(ctypes, "RTLD_GLOBAL", 0))
        ctypes.CDLL(str(lib))
    except OSError as e:
        text = str(e)
        m = re.search(r"([\w.+-]+\.(?:so|dll)[\w.]*)\s*: cannot open", text)  # dlerror: "libX.so.12: cannot open ..."
        missing = m.group(1) if m else text
        hint = ("install TensorRT's libraries for this onnxruntime (pip install 'styleforge[ort-trt]')"
                if provider == "TensorrtExecutionProvider" else
                "install the CUDA 12 and cuDNN 9 libraries (pip install 'onnxruntime-gpu[cuda,cudnn]') or put them on "
                "LD_LIBRARY_PATH")
        return Verdict.no(f"{lib.name} cannot load: missing {missing} ({text}); {hint}")
    return Verdict.yes(f"{lib.name} loads")


def diagnose_provider(provider: str) -> str:
    """Why `provider` is not active, in one line (see :func:`provider_status`)."""
    status = provider_status(provider)
    if not status:
        return status.why
    return (f"{status.why}, yet ONNX Runtime did not enable {provider} (no NVIDIA GPU or driver here? its log above "
            "says why)")


PLACEMENT_HEADER = re.compile(r"(All nodes|Node\(s\)) placed on \[(\w+)\]\. Number of nodes: (\d+)")
_STDERR_LOCK = threading.Lock()


def parse_placement(log_text: str) -> dict[str, list[str]]:
    """``{provider: [node, ...]}`` from ONNX Runtime's verbose "Node placements" log (a provider that got every
    node is listed with one entry ``"all N nodes"``)."""
    out: dict[str, list[str]] = {}
    current = None
    for line in log_text.splitlines():
        if "VerifyEachNodeIsAssignedToAnEp" not in line:
            current = None
            continue
        m = PLACEMENT_HEADER.search(line)
        if m:
            current = out.setdefault(m.group(2), [])
            if m.group(1) == "All nodes":
                current.append(f"all {m.group(3)} nodes")
                current = None
        elif current is not None:
            node = line.split("]", 1)[-1].strip()
            if node:
                current.append(node)
    return out


def _captured_stderr(fn):
    """(fn(), what the native code wrote to stderr meanwhile); warnings and errors are written back."""
    with _STDERR_LOCK, tempfile.TemporaryFile(mode="w+b") as tmp:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            result = fn()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read().decode("utf-8", "replace")
    loud = [ln for ln in text.splitlines() if not re.search(r"\[[VI]:onnxruntime", ln)]
    if loud:
        sys.stderr.write("\n".join(loud) + "\n")
    return result, text


def node_placement(create):
    """(session, {provider: [nodes]}): `create(log_severity)` builds the session; it is built with ONNX Runtime's
    verbose log captured to read the node placements (tests replace this function)."""
    session, text = _captured_stderr(lambda: create(0))
    return session, parse_placement(text)


#: ``opt_level`` names → ONNX Runtime's graph optimisation levels
OPT_LEVELS = {"disabled": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED",
              "all": "ORT_ENABLE_ALL"}
#: ``spinning="auto"`` spins only while the 1-minute load average per core is below this (an idle machine)
IDLE_LOAD_PER_CORE = 0.5


def spin_policy(spinning) -> bool:
    """Whether intra-op threads spin. True/False as given; ``"auto"`` (the default): spin on an idle machine (load
    average per core < :data:`IDLE_LOAD_PER_CORE` when the session is made), sleep on a busy one. Measured (docs/deploy.md
    "Session policy"): idle, spinning is ONNX Runtime's default and 8 % faster (150 vs 162 ms, demo stylizer, 512²,
    2 threads, issue 19); loaded (load ~4 on 2 cores) sleeping was faster (fp32 423 → 365 ms, int8 233 → 172 ms): a
    spinning pool takes the cores the other work needs."""
    if spinning in (True, False):
        return spinning
    if str(spinning).lower() in ("1", "true", "on", "yes"):
        return True
    if str(spinning).lower() in ("0", "false", "off", "no"):
        return False
    if spinning != "auto":
        raise StyleForgeError(f"spinning must be true, false or auto, got {spinning!r}")
    try:
        return os.getloadavg()[0] / max(1, os.cpu_count() or 1) < IDLE_LOAD_PER_CORE
    except (OSError, AttributeError):  # no load average (Windows): ONNX Runtime's default
        return True


class OrtSessionLoader:
    """Builds the ONNX Runtime session of one graph of a bundle (a runner's loader): from
    ``bundle.graph_bytes(role)``, with the providers, threads, memory arena, spinning and graph optimisation
    level asked for (``opt_level``: disabled | basic | extended | all)."""

    def __init__(self, bundle, role: str, providers, *, threads: int | None = None, mem_arena: bool = True,
                 spinning="auto", log_level: int = 3, placement: bool = False, opt_level: str = "all"):
        self.bundle, self.role, self.providers = bundle, role, providers
        if opt_level not in OPT_LEVELS:
            raise StyleForgeError(f"opt_level must be one of {', '.join(OPT_LEVELS)}, got {opt_level!r}")
        self.threads, self.mem_arena, self.spinning = threads, bool(mem_arena), spin_policy(spinning)
        self.log_level, self.placement, self.opt_level = int(log_level), bool(placement), opt_level

    def options(self, log_level: int):
        ort = _ort()
        opts = ort.SessionOptions()
        # all optimisations: basic and extended were equal or slower on the stylizers (docs/deploy.md)
        opts.graph_optimization_level = getattr(ort.GraphOptimizationLevel, OPT_LEVELS[self.opt_level])
        opts.log_severity_level = log_level
        opts.enable_cpu_mem_arena = self.mem_arena  # off for tiling (runtime/tiling.py): the arena keeps a block per tile shape
        if self.threads:
            opts.intra_op_num_threads = int(self.threads)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spinning else "0")
        opts.add_session_config_entry("session.model_external_initializers_file_folder_path",
                                      str(self.bundle.graph_dir(self.role)))
        return opts

    def __call__(self):
        """(session, placement or None)."""
        ort = _ort()
        data = self.bundle.graph_bytes(self.role)
        providers = self.providers() if callable(self.providers) else self.providers

        def create(level):
            return ort.InferenceSession(data, sess_options=self.options(level), providers=providers, enable_fallback=0)

        if self.placement:
            return node_placement(create)
        return create(self.log_level), None


class OrtRunner(Runner):
    """Base of the ONNX Runtime runners: one InferenceSession, shared by all threads."""

    thread_policy = "shared"
    provider = "CPUExecutionProvider"
    io_device = "cpu"
    plain_run = True   # run() through session.run; False: through an IOBinding (GPU runners)
    log_severity = 3   # errors only: nothing to hide on the CPU
    needs = ("onnxruntime",)
    refuses_plugin_graphs = True  # otherwise every graph ONNX Runtime can load (no _supports of its own)

    @classmethod
    def probe(cls) -> Verdict:
        try:
            ort = _ort()
        except ImportError as e:
            return Verdict.no(f"onnxruntime is not importable ({e})")
        return Verdict.yes(f"onnxruntime {ort.__version__}")

    def __init__(self, bundle, role: str, *, threads: int | None = None, device_id: int = 0, log_level: int | None = None,
                 mem_arena: bool = True, spinning="auto", opt_level: str = "all", **options):
        super().__init__(bundle, role, **options)
        self.threads, self.device_id, self.mem_arena = threads, int(device_id), bool(mem_arena)
        self.spinning = spin_policy(spinning)
        self.log_level = self.log_severity if log_level is None else int(log_level)
        self.session = None
        self.run_options = None
        self.placement: dict[str, list[str]] | None = None
        if self.loader is None:
            self.loader = OrtSessionLoader(bundle, role, self.provider_list, threads=threads, mem_arena=mem_arena,
                                           spinning=self.spinning, opt_level=opt_level, log_level=self.log_level,
                                           placement=self.provider != "CPUExecutionProvider")

    def provider_list(self) -> list:
        return ["CPUExecutionProvider"]

    def activate_impl(self) -> None:
        name = self.graph.file
        try:
            session, self.placement = self.load()
        except StyleForgeError:
            raise
        except Exception as e:  # onnxruntime raises its own exception types
            first = (str(e).splitlines() or [type(e).__name__])[0]
            if self.provider != "CPUExecutionProvider":
                raise StyleForgeError(f"{self.name}: onnxruntime could not create a session for {name} with "
                                      f"{self.provider} ({first}); {diagnose_provider(self.provider)}") from None
            raise BundleError(f"{self.bundle.file(name)}: onnxruntime cannot load this graph ({first})") from None
        active = session.get_providers()
        if self.provider not in active:
            raise StyleForgeError(f"{self.name}: asked onnxruntime for {self.provider} and got {', '.join(active)} — "
                                  f"refusing to run on the CPU instead: {diagnose_provider(self.provider)}")
        self.check_placement()
        # runs log at the runner's level, also when the session was created verbose (to read node placements)
        self.run_options = _ort().RunOptions()
        self.run_options.log_severity_level = self.log_level
        self.session = session
        self.input_names = [i.name for i in session.get_inputs()]
        self.output_names = [o.name for o in session.get_outputs()]

    def check_placement(self) -> None:
        """Refuse or note where ONNX Runtime put the nodes (GPU runners; nothing to check on the CPU)."""

    @property
    def cpu_nodes(self) -> list[str]:
        """Nodes ONNX Runtime placed on the CPU (GPU runners; empty when unknown)."""
        if self.provider == "CPUExecutionProvider" or not self.placement:
            return []
        return list(self.placement.get("CPUExecutionProvider", []))

    def notes(self) -> dict:
        cpu = self.cpu_nodes
        return {"cpu_nodes": cpu} if cpu else {}

    def deactivate_impl(self) -> None:
        self.session = None

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers() if self.session is not None else [self.provider]

    def run_device(self, feeds: dict) -> dict:
        """Run with outputs left on the runner's device as ``onnxruntime.OrtValue`` (inputs may be OrtValues
        too, e.g. the outputs of another graph): no round trip through host memory between graphs."""
        return dict(zip(self.output_names, self._run_bound(feeds).get_outputs()))

    def _run_bound(self, feeds: dict):
        """Run through a fresh IOBinding (outputs on the runner's device); returns the binding."""
        self.ensure_active()
        ort = _ort()
        io = self.session.io_binding()
        for name, value in self.check_feeds(feeds).items():
            if isinstance(value, ort.OrtValue):
                io.bind_ortvalue_input(name, value)
            else:
                io.bind_cpu_input(name, np.ascontiguousarray(value))
        for name in self.output_names:
            io.bind_output(name, self.io_device, self.device_id)
        try:
            self.session.run_with_iobinding(io, self.run_options)
        except Exception as e:
            raise StyleForgeError(f"{self.name}: graph {self.role!r} failed: {(str(e).splitlines() or [''])[0]}") from None
        return io

    def run_impl(self, feeds: dict) -> dict:
        if self.plain_run:  # nothing to keep on a device: the plain call (~10 us less per run)
            try:
                return dict(zip(self.output_names, self.session.run(self.output_names, feeds, self.run_options)))
            except Exception as e:
                raise StyleForgeError(f"{self.name}: graph {self.role!r} failed: {(str(e).splitlines() or [''])[0]}") from None
        return dict(zip(self.output_names, self._run_bound(feeds).copy_outputs_to_cpu()))


@register_runner
class OrtCpuRunner(OrtRunner):
    """ONNX Runtime on the CPU: runs every plain ONNX graph; the reference runner."""

    name = "ort-cpu"
    auto_rank = 90


class OrtGpuRunner(OrtRunner):
    io_device = "cuda"
    plain_run = False
    device = "cuda"
    log_severity = 2   # warnings too: a node placed on the CPU, an engine build, a provider that failed

    @classmethod
    def probe(cls) -> Verdict:
        base = super().probe()
        if not base:
            return base
        status = provider_status(cls.provider)
        if not status:
            return status
        from .cuda import probe_device

        try:
            import cuda.bindings  # noqa: F401  (optional: without it the GPU is checked at session creation)
        except ImportError:
            return Verdict.yes(f"{base.why} with {cls.provider}")
        return probe_device()


CUDA_DEFAULTS = {"cudnn_conv_algo_search": "EXHAUSTIVE", "do_copy_in_default_stream": "1",
                 "arena_extend_strategy": "kNextPowerOfTwo"}


@register_runner
class OrtCudaRunner(OrtGpuRunner):
    """ONNX Runtime's CUDA provider (onnxruntime-gpu). Options: ``device_id``, ``cuda_options`` (provider
    options by ONNX Runtime's names, e.g. ``{"use_tf32": "0", "gpu_mem_limit": str(4 << 30)}``)."""

    name = "ort-cuda"
    auto_rank = 20
    provider = "CUDAExecutionProvider"
    needs = ("NVIDIA GPU + driver", "onnxruntime-gpu alone (not beside onnxruntime) with CUDA 12 / cuDNN 9 libraries "
             "(README 'GPU install')")

    def __init__(self, bundle, role: str, *, cuda_options: dict | None = None, **options):
        super().__init__(bundle, role, **options)
        self.cuda_options = {**CUDA_DEFAULTS, "device_id": str(self.device_id),
                             **{k: str(v) for k, v in (cuda_options or {}).items()}}

    def provider_list(self) -> list:
        _preload_gpu_libraries()
        return [(self.provider, dict(self.cuda_options)), "CPUExecutionProvider"]


def cache_root() -> Path:
    """Where GPU caches go unless told otherwise: $STYLEFORGE_CACHE_DIR, else $XDG_CACHE_HOME/styleforge."""
    if os.environ.get("STYLEFORGE_CACHE_DIR"):
        return Path(os.environ["STYLEFORGE_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "styleforge"


def profile_shape_options(bundle, role: str) -> dict[str, str]:
    """``trt_profile_{min,opt,max}_shapes`` for every dynamic input (ONNX Runtime needs all three for all of
    them), from the bundle's default shape bucket."""
    from .profiles import default_bucket, is_symbolic

    graph = bundle.graph(role)
    dynamic = [t for t in graph.inputs if any(is_symbolic(d) for d in t.shape)]
    if not dynamic:
        return {}
    bucket = default_bucket(dynamic, bundle.manifest.size_constraints)
    fmt = lambda k: ",".join(f"{t.name}:{'x'.join(map(str, bucket[t.name][k]))}" for t in dynamic)  # noqa: E731
    return {"trt_profile_min_shapes": fmt(0), "trt_profile_opt_shapes": fmt(1), "trt_profile_max_shapes": fmt(2)}


@register_runner
class OrtTensorRTRunner(OrtGpuRunner):
    """ONNX Runtime's TensorRT provider: ONNX Runtime compiles TensorRT engines itself on first use and keeps
    them, with TensorRT's timing cache, in ``cache_dir`` (default ``<cache root>/ort-trt/<graph sha>``); fp16
    is enabled for fp16 bundles. Options: ``cache_dir``, ``device_id``, ``trt_options`` (extra provider
    options by ONNX Runtime's names, e.g. ``{"trt_builder_optimization_level": 5}``)."""

    name = "ort-trt"
    provider = "TensorrtExecutionProvider"
    needs = ("NVIDIA GPU + driver", "onnxruntime-gpu built with the TensorRT provider",
             "TensorRT libraries matching that onnxruntime (pip install 'styleforge[ort-trt]')")

    def __init__(self, bundle, role: str, *, cache_dir=None, trt_options: dict | None = None, **options):
        super().__init__(bundle, role, **options)
        sha = bundle.manifest.files.get(self.graph.file, "") or hashlib.sha256(self.graph.file.encode()).hexdigest()
        self.cache_dir = Path(cache_dir) if cache_dir else cache_root() / "ort-trt" / f"{role}-{sha[:16]}"
        self.trt_options = dict(trt_options or {})

    def trt_provider_options(self) -> dict:
        cache = str(self.cache_dir)
        opts = {"device_id": self.device_id, "trt_engine_cache_enable": True, "trt_engine_cache_path": cache,
                "trt_timing_cache_enable": True, "trt_timing_cache_path": cache,
                "trt_fp16_enable": self.bundle.manifest.precision == "fp16",
                **profile_shape_options(self.bundle, self.role)}
        opts.update(self.trt_options)
        return opts

    def check_placement(self) -> None:
        """TensorRT must take at least one node: ``get_providers()`` lists it even when it took none (then all
        ran on CUDA, which is ``ort-cuda``, not what was asked)."""
        if self.placement and not self.placement.get(self.provider):  # empty: the log said nothing (unknown)
            where = ", ".join(f"{p}: {len(n)}" for p, n in self.placement.items()) or "unknown"
            raise StyleForgeError(f"{self.name}: TensorRT took no node of graph {self.role!r} (placements: {where}); "
                                  "it would run on CUDA alone — use ort-cuda, or see ONNX Runtime's log with -v")

    def provider_list(self) -> list:
        _preload_gpu_libraries()
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        return [(self.provider, self.trt_provider_options()),
                ("CUDAExecutionProvider", {**CUDA_DEFAULTS, "device_id": str(self.device_id)}), "CPUExecutionProvider"]


def cpu_fp16_fallbacks(path, feeds: dict, intended=None) -> list[str]:
    """Op types of an fp16 graph that ONNX Runtime CPU computes in fp32 here: it has no fp16 kernel for them, so
    its InsertCastTransformer silently casts their inputs to fp32 and back. Read from one profiled run with graph
    optimisations off (fused nodes would hide the originals): the op types that ran with fp32 inputs only and
    never with fp16 ones, among `intended` (the op types the graph computes in fp16, recorded at conversion; all
    when not given). Empty when ORT inserted no precision casts."""
    import json
    import tempfile

    ort = _ort()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    opts.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        opts.profile_file_prefix = str(Path(tmp) / "fp16")
        session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        names = {i.name for i in session.get_inputs()}
        session.run(None, {k: v for k, v in feeds.items() if k in names})
        events = json.loads(Path(session.end_profiling()).read_text())
    nodes = [e for e in events if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")]
    if not any(e["name"].startswith("InsertedPrecisionFreeCast") for e in nodes):
        return []
    fp32_only, fp16_ran = set(), set()
    for e in nodes:
        if e["name"].startswith("Inserted"):
            continue
        args = e.get("args", {})
        op = args.get("op_name", "")
        types = {next(iter(t)) for t in args.get("input_type_shape", []) if t}
        if "float16" in types:
            fp16_ran.add(op)
        elif "float" in types:
            fp32_only.add(op)
    out = (fp32_only - fp16_ran - {"Cast"})
    return sorted(out & set(intended) if intended is not None else out)
