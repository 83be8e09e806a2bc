"""Build TensorRT engines from a bundle's ONNX graphs — written to NVIDIA's documented TensorRT 10/11
Python API and kept isolated: nothing else imports tensorrt, and without it every entry point raises
one clear StyleForgeError.

- Networks are created strongly typed (``NetworkDefinitionCreationFlag.STRONGLY_TYPED``; TensorRT 11 has
  only strongly typed networks and no FP16/INT8 builder flags): precision is what the ONNX graph says
  (docs/kernels.md, "Engines"), the builder only builds.
- Dynamic inputs get one optimisation profile (min/opt/max per input).
- Before parsing, the graph's operators are checked against TensorRT's ONNX support list
  (kernels/trt_onnx_support.py); a ``styleforge::WhitenColor`` node registers the plugin first.
"""
from __future__ import annotations

import re

from ...runtime.errors import StyleForgeError
from ...runtime.manifest import EngineRecord

DEFAULT_WORKSPACE_GB = 4.0


def _trt():
    try:
        import tensorrt as trt
    except ImportError as e:
        raise StyleForgeError(f"building engines needs NVIDIA TensorRT 10 or 11 (pip install tensorrt; {e}); "
                              "it is not installed here") from None
    return trt


def parse_shapes(items) -> dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
    """``name:MIN:OPT:MAX`` with dims joined by x (``content:1x3x256x256:1x3x512x512:4x3x1024x1024``);
    ``name:SHAPE`` fixes one shape. Returns {name: (min, opt, max)}."""
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
        out[parts[0]] = tuple(dims)
    return out


def default_profile(inputs, multiple: int = 1) -> dict:
    """A profile from the manifest's input specs: batch 1/1/4, spatial dims 2·m / 512 / 1024 (rounded to
    the bundle's size multiple), other symbolic dims 1/1/1; static dims as they are."""
    prof = {}
    for entry in inputs:
        mins, opts, maxs = [], [], []
        for i, d in enumerate(entry.shape):
            if isinstance(d, int) and d > 0:
                mins.append(d), opts.append(d), maxs.append(d)
            elif i == 0 or re.search(r"batch", str(d)):
                mins.append(1), opts.append(1), maxs.append(4)
            elif re.search(r"height|width|^h$|^w$", str(d)):
                m = max(1, multiple)
                mins.append(2 * m), opts.append(max(2 * m, 512 // m * m)), maxs.append(max(2 * m, 1024 // m * m))
            else:
                mins.append(1), opts.append(1), maxs.append(1)
        prof[entry.name] = (tuple(mins), tuple(opts), tuple(maxs))
    return prof


def build_engine(onnx_bytes: bytes, shapes: dict | None = None, *, workspace_gb: float = DEFAULT_WORKSPACE_GB,
                 what: str = "graph") -> bytes:
    """Serialised engine for `onnx_bytes` on this GPU. `shapes`: {input: (min, opt, max)} for dynamic inputs."""
    from ...kernels.trt_onnx_support import check_tensorrt_ops, graph_ops
    from ...kernels.trt_plugin import ONNX_DOMAIN, PLUGIN_NAME, register_plugin

    check_tensorrt_ops(onnx_bytes, what)
    trt = _trt()
    if (ONNX_DOMAIN, PLUGIN_NAME) in graph_ops(onnx_bytes):
        register_plugin()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    F = trt.NetworkDefinitionCreationFlag
    if hasattr(F, "STRONGLY_TYPED"):
        flags |= 1 << int(F.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes):
        errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise StyleForgeError(f"{what}: TensorRT's ONNX parser failed: {errs}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    shapes = shapes or {}
    dynamic = [network.get_input(i) for i in range(network.num_inputs)
               if any(d < 0 for d in tuple(network.get_input(i).shape))]
    if dynamic:
        profile = builder.create_optimization_profile()
        for t in dynamic:
            if t.name not in shapes:
                raise StyleForgeError(f"{what}: input {t.name} has dynamic shape {tuple(t.shape)}; give --shapes {t.name}:MIN:OPT:MAX")
            mn, op, mx = shapes[t.name]
            profile.set_shape(t.name, mn, op, mx)
        config.add_optimization_profile(profile)
    blob = builder.build_serialized_network(network, config)
    if blob is None:
        raise StyleForgeError(f"{what}: TensorRT could not build an engine (see the log above)")
    return bytes(blob)


def build_bundle_engines(bundle_path, *, roles=None, shapes: dict | None = None,
                         workspace_gb: float = DEFAULT_WORKSPACE_GB) -> list[dict]:
    """Build an engine per graph (or per role in `roles`), store them under engines/ and record them in the
    manifest's ``engines`` list (role, file, tensorrt, compute_capability, precision, profiles)."""
    from ...runtime.backends.tensorrt import compute_capability
    from ...runtime.bundle import open_bundle, update_bundle

    bundle = open_bundle(bundle_path)
    graphs = bundle.graphs
    roles = list(roles or graphs)
    for r in roles:
        if r not in graphs:
            raise StyleForgeError(f"{bundle_path}: no graph with role {r!r} (have: {', '.join(graphs)})")
    trt = _trt()
    cc = compute_capability()
    multiple = int(bundle.manifest.size_constraints.multiple_of)
    built, files = [], {}
    for role in roles:
        g = graphs[role]
        prof = default_profile(g.inputs, multiple)
        prof.update({k: v for k, v in (shapes or {}).items() if k in prof})
        data = build_engine(bundle.file(g.file).read_bytes(), prof, workspace_gb=workspace_gb, what=f"{bundle_path}:{role}")
        rel = f"engines/{role}.sm{cc.replace('.', '')}.trt{trt.__version__}.engine"
        files[rel] = data
        built.append(EngineRecord(role=role, file=rel, tensorrt=trt.__version__, compute_capability=cc,
                                  precision=bundle.manifest.precision,
                                  profiles=[{k: [list(v[0]), list(v[1]), list(v[2])] for k, v in prof.items()}]))

    def patch(m):
        m.engines = [e for e in m.engines if not any(e.file == b.file for b in built)] + built

    update_bundle(bundle_path, add_files=files, patch=patch)
    return built
