"""Build TensorRT engines from a bundle's ONNX graphs — written to NVIDIA's documented TensorRT 10/11 Python
API and kept isolated: nothing else here imports tensorrt, and without it every entry point raises one
clear StyleForgeError. ``plan_profiles``/``check_report`` (what ``--check-only`` prints) need no TensorRT.

- Networks are created strongly typed (``NetworkDefinitionCreationFlag.STRONGLY_TYPED``; TensorRT 11 has
  only strongly typed networks and no FP16/INT8 builder flags): precision is what the ONNX graph says.
- Shape buckets: one optimisation profile per bucket (default: runtime/backends/profiles.py, respecting
  ``multiple_of`` and ``min_side``; ``--shapes`` adds buckets), each added ``contexts`` times so that many
  execution contexts can run at once (TensorRT: each context in concurrent use needs its own profile).
- Builder options: optimisation level 0–5, hardware-compatibility level, version compatibility, workspace.
- A persistent timing cache (timing_cache.py) makes rebuilds fast.
- Records (EngineRecord): exact TensorRT version, GPU name and compute capability, the options, the
  buckets, the plugins the engine needs, the sha256 of the timing cache the build started from.
- Before parsing, the graph's operators are checked against TensorRT's ONNX support list
  (kernels/trt_onnx_support.py); a ``styleforge::WhitenColor`` node registers the plugin first.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...runtime.backends.profiles import Bucket, complete_bucket, is_symbolic
from ...runtime.errors import StyleForgeError
from ...runtime.manifest import HARDWARE_COMPATIBILITY, EngineRecord

DEFAULT_WORKSPACE_GB = 4.0
DEFAULT_CONTEXTS = 2


def _trt():
    try:
        import tensorrt as trt
    except ImportError as e:
        raise StyleForgeError(f"building engines needs NVIDIA TensorRT 10 or 11 (pip install 'styleforge[tensorrt]'; {e}); "
                              "it is not installed here") from None
    return trt


@dataclass
class BuildOptions:
    """How engines are built (``styleforge engine build`` flags)."""

    workspace_gb: float = DEFAULT_WORKSPACE_GB
    opt_level: int | None = None               # builder_optimization_level 0..5; None: TensorRT's default (3)
    hardware_compatibility: str = "none"       # none | ampere_plus | same_compute_capability
    version_compatible: bool = False
    contexts: int = DEFAULT_CONTEXTS           # copies of each bucket: execution contexts that may run at once
    timing_cache: Path | None = None           # None: no timing cache
    default_timing_cache: bool = True          # use the default path when timing_cache is None

    def check(self) -> "BuildOptions":
        if self.opt_level is not None and not 0 <= self.opt_level <= 5:
            raise StyleForgeError(f"--opt-level {self.opt_level}: TensorRT's builder optimisation level is 0..5")
        if self.hardware_compatibility not in HARDWARE_COMPATIBILITY:
            raise StyleForgeError(f"--hardware-compatibility {self.hardware_compatibility}: choose one of "
                                  f"{', '.join(HARDWARE_COMPATIBILITY)}")
        if self.contexts < 1:
            raise StyleForgeError("--contexts must be at least 1")
        if self.workspace_gb <= 0:
            raise StyleForgeError("--workspace-gb must be positive")
        return self


def parse_shapes(items) -> dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
    """One bucket from ``name:MIN:OPT:MAX`` items with dims joined by x
    (``content:1x3x256x256:1x3x512x512:4x3x1024x1024``); ``name:SHAPE`` fixes one shape."""
    out = {}
    for item in items or []:
        parts = item.split(":")
        if len(parts) not in (2, 4) or not parts[0]:
            raise StyleForgeError(f"--shapes {item!r}: expected NAME:MIN:OPT:MAX or NAME:SHAPE, dims like 1x3x256x256")
        try:
            dims = [tuple(int(d) for d in p.lower().split("x")) for p in parts[1:]]
        except ValueError:
            raise StyleForgeError(f"--shapes {item!r}: dimensions must be integers joined by x") from None
        if len(dims) == 1:
            dims = dims * 3
        if len({len(d) for d in dims}) != 1 or any(d < 1 for shape in dims for d in shape):
            raise StyleForgeError(f"--shapes {item!r}: min/opt/max must have the same rank and positive dims")
        if not all(a <= b <= c for a, b, c in zip(*dims)):
            raise StyleForgeError(f"--shapes {item!r}: need min <= opt <= max in every dimension")
        if parts[0] in out:
            raise StyleForgeError(f"--shapes: input {parts[0]} is given twice in one bucket")
        out[parts[0]] = tuple(dims)
    return out


def _dynamic_inputs(graph):
    return [t for t in graph.inputs if any(is_symbolic(d) for d in t.shape)]


def plan_profiles(bundle, roles, buckets: list[dict] | None = None) -> dict[str, list[Bucket]]:
    """Per role, the shape buckets its engine gets: the default bucket, or one per user bucket (inputs the
    bucket leaves out take the default; shapes checked against the size rule). Graphs without dynamic
    inputs get none. A name that is no input of any of these graphs is an error (a typo is not ignored)."""
    sc = bundle.manifest.size_constraints
    graphs = {r: bundle.graph(r) for r in roles}
    known = {t.name for g in graphs.values() for t in g.inputs}
    for b in buckets or []:
        unknown = sorted(set(b) - known)
        if unknown:
            raise StyleForgeError(f"--shapes: no graph of {', '.join(roles)} has an input named {unknown[0]} "
                                  f"(inputs: {', '.join(sorted(known))})")
    plan = {}
    for role, g in graphs.items():
        dyn = _dynamic_inputs(g)
        if not dyn:
            plan[role] = []
            continue
        names = {t.name for t in dyn}
        static = {t.name for t in g.inputs} - names
        out: list[Bucket] = []
        for b in buckets or [{}]:
            fixed = sorted(set(b) & static)
            if fixed:
                raise StyleForgeError(f"--shapes: input {fixed[0]} of graph {role!r} has a fixed shape")
            bucket = complete_bucket({k: v for k, v in b.items() if k in names}, dyn, sc, f"--shapes ({role})")
            if bucket not in out:
                out.append(bucket)
        plan[role] = out
    return plan


def graph_plugins(onnx_bytes: bytes) -> list[str]:
    """Plugin ids of the plugin nodes in a graph (what the engine will need registered)."""
    from ...kernels.trt_onnx_support import graph_ops
    from ...kernels.trt_plugin import ONNX_DOMAIN, PLUGIN_ID, PLUGIN_NAME

    return [PLUGIN_ID] if (ONNX_DOMAIN, PLUGIN_NAME) in graph_ops(onnx_bytes) else []


def check_report(bundle, roles, buckets: list[dict] | None = None) -> dict:
    """What ``engine build --check-only`` reports, without TensorRT: every graph's operators pass TensorRT's
    ONNX support list (else StyleForgeError), the plugins it needs, and the profiles that would be built."""
    from ...kernels.trt_onnx_support import check_tensorrt_ops

    plan = plan_profiles(bundle, roles, buckets)
    graphs = []
    for role in roles:
        data = bundle.file(bundle.graph(role).file).read_bytes()
        check_tensorrt_ops(data, f"{bundle.path}:{role}")
        plugins = graph_plugins(data)
        graphs.append({"role": role, "operators": "supported", "plugins": plugins,
                       "requires": ["tensorrt>=10.6 with tensorrt.plugin (Python plugin)"] if plugins else [],
                       "profiles": [{"bucket": k, "input": name, "min": list(mn), "opt": list(op), "max": list(mx)}
                                    for k, bucket in enumerate(plan[role]) for name, (mn, op, mx) in bucket.items()]})
    return {"bundle": str(bundle.path), "size_constraints": {"multiple_of": bundle.manifest.size_constraints.multiple_of,
                                                             "min_side": bundle.manifest.size_constraints.min_side},
            "graphs": graphs}


def build_engine(onnx_bytes: bytes, buckets: list[Bucket], options: BuildOptions, *, what: str = "graph",
                 timing_cache: Path | None = None) -> tuple[bytes, str | None]:
    """(serialised engine, sha256 of the timing cache it started from) for `onnx_bytes` on this GPU: one
    profile per bucket, each ``options.contexts`` times."""
    from ...kernels.trt_onnx_support import check_tensorrt_ops
    from ...kernels.trt_plugin import register_plugin
    from . import timing_cache as tc

    from .trt_features import check_build

    check_tensorrt_ops(onnx_bytes, what)
    trt = _trt()
    check_build(options, trt.__version__, plugins=bool(graph_plugins(onnx_bytes)), what=what)
    if graph_plugins(onnx_bytes):
        register_plugin()  # StyleForgeError with TensorRT's complaint if the plugin cannot be registered
    try:
        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        flags = 0
        F = trt.NetworkDefinitionCreationFlag
        if hasattr(F, "STRONGLY_TYPED"):
            flags |= 1 << int(F.STRONGLY_TYPED)
        network = builder.create_network(flags)
        parser = trt.OnnxParser(network, logger)
    except Exception as e:  # e.g. no GPU, a driver too old for this TensorRT, or a TensorRT without engine support
        raise StyleForgeError(f"{what}: TensorRT {trt.__version__} could not start a build ({type(e).__name__}: {e})") from None
    if not parser.parse(onnx_bytes):
        errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise StyleForgeError(f"{what}: TensorRT's ONNX parser failed: {errs}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(options.workspace_gb * (1 << 30)))
    if options.opt_level is not None:
        config.builder_optimization_level = int(options.opt_level)
    config.hardware_compatibility_level = getattr(trt.HardwareCompatibilityLevel, options.hardware_compatibility.upper())
    if options.version_compatible:
        config.set_flag(trt.BuilderFlag.VERSION_COMPATIBLE)
    cache_sha = tc.load(config, timing_cache)
    dynamic = [network.get_input(i) for i in range(network.num_inputs)
               if any(d < 0 for d in tuple(network.get_input(i).shape))]
    for bucket in buckets if dynamic else []:
        for _ in range(options.contexts):
            profile = builder.create_optimization_profile()
            for t in dynamic:
                if t.name not in bucket:
                    raise StyleForgeError(f"{what}: input {t.name} has dynamic shape {tuple(t.shape)} and no profile")
                profile.set_shape(t.name, *bucket[t.name])
            config.add_optimization_profile(profile)
    blob = builder.build_serialized_network(network, config)
    if blob is None:
        raise StyleForgeError(f"{what}: TensorRT could not build an engine (see TensorRT's log above)")
    tc.save(config, timing_cache)
    return bytes(blob), cache_sha


def build_bundle_engines(bundle_path, *, roles=None, buckets: list[dict] | None = None,
                         options: BuildOptions | None = None) -> list[EngineRecord]:
    """Build an engine per graph (or per role in `roles`) for the GPU here, store them under engines/ and
    record them in the manifest's ``engines`` list (replacing records of the same file)."""
    from ...runtime.backends.cuda import device_info
    from ...runtime.bundle import logical_name, open_bundle, update_bundle
    from . import timing_cache as tc

    options = (options or BuildOptions()).check()
    bundle = open_bundle(bundle_path)
    roles = list(roles or bundle.graphs)
    for r in roles:
        if r not in bundle.graphs:
            raise StyleForgeError(f"{bundle_path}: no graph with role {r!r} (have: {', '.join(bundle.graphs)})")
    plan = plan_profiles(bundle, roles, buckets)
    trt = _trt()
    from .trt_features import check_build

    for role in roles:  # every refusal before the first build (TensorRT release, plugin with --version-compatible)
        check_build(options, trt.__version__, plugins=bool(graph_plugins(bundle.file(bundle.graph(role).file).read_bytes())),
                    what=f"{bundle_path}:{role}")
    gpu = device_info()
    cache = options.timing_cache
    if cache is None and options.default_timing_cache:
        cache = tc.default_path(trt.__version__, gpu.name, gpu.compute_capability)
    built, files = [], {}
    for role in roles:
        g = bundle.graph(role)
        data = bundle.file(g.file).read_bytes()
        blob, cache_sha = build_engine(data, plan[role], options, what=f"{bundle_path}:{role}", timing_cache=cache)
        rel = f"engines/{role}.sm{gpu.compute_capability.replace('.', '')}.trt{trt.__version__}.engine"
        files[rel] = blob
        built.append(EngineRecord(
            role=role, file=rel, tensorrt=trt.__version__, compute_capability=gpu.compute_capability,
            precision=bundle.manifest.precision, gpu=gpu.name,
            profiles=[{k: [list(v[0]), list(v[1]), list(v[2])] for k, v in b.items()} for b in plan[role]],
            hardware_compatibility=options.hardware_compatibility, version_compatible=options.version_compatible,
            builder_optimization_level=options.opt_level, contexts=options.contexts if plan[role] else 1,
            plugins=graph_plugins(data), timing_cache=cache_sha))

    def patch(m):
        m.engines = [e for e in m.engines if not any(logical_name(e.file) == b.file for b in built)] + built

    update_bundle(bundle_path, add_files=files, patch=patch)
    return built
