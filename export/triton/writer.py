"""Write a Triton model repository from bundles::

    REPO/<name>/config.pbtxt + REPO/<name>/1/model.onnx     platform onnxruntime_onnx, uint8 NHWC I/O in the graph

or, where the bundle holds a TensorRT engine for the target GPU (``target_sm``), an ensemble::

    REPO/<name>_pre   (python backend: uint8 NHWC → padded float NCHW)
    REPO/<name>_plan  (tensorrt_plan: the engine, as model.plan; max_batch_size clamped to its profile)
    REPO/<name>_post  (python backend: crop, round, clip → uint8 NHWC)
    REPO/<name>       (platform ensemble: pre → plan → post; what clients call)

With ``backend="python"`` (``styleforge triton --backend python``) each ONNX model is a Python-backend model instead:
``1/model.py`` runs the same wrapped ``1/model.onnx`` with ONNX Runtime inside Triton, same I/O and batching; in an
ensemble the plan step becomes ``<name>_graph``, the float graph on ONNX Runtime (a Triton without GPUs serves it).

Names are bundle file stems (CycleGAN's B→A graph is ``<name>_reverse``). ``max_batch_size`` and the dims come from
the manifest's graph (the batch dimension is dropped from ``dims`` when batching; a per-image scalar such as
``style_index`` becomes ``dims: [1]`` reshaped to a scalar); ``dynamic_batching`` and ``instance_group`` from the
options. Every model directory is written under a temporary name and checked before it replaces the old one.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from ...runtime.artefacts import write_marker
from ...runtime.atomic import atomic_dir
from ...runtime.errors import StyleForgeError
from ...runtime.interfaces import interface_spec, interfaces_with
from .schema import ONNX_TO_TRITON, model_config_pb2, to_text

#: the graphs an interface's Triton models serve: its spec's ``triton_graphs`` (runtime/interfaces.py)


@dataclass
class RepoOptions:
    max_batch_size: int = 8
    max_delay_us: int = 5000           # dynamic_batching.max_queue_delay_microseconds
    kind: str = "KIND_AUTO"            # instance_group kind for ONNX models (KIND_CPU, KIND_GPU, KIND_AUTO)
    count: int = 1                     # instances per group
    target_sm: str | None = None       # compute capability of the serving GPU ("9.0"): use a matching engine
    backend: str = "onnxruntime"       # "python": each graph runs on ONNX Runtime inside Triton's Python backend


def _dims(vi) -> list[int]:
    return [d.dim_value if d.HasField("dim_value") else -1 for d in vi.type.tensor_type.shape.dim]


def _add_io(field, name: str, data_type: str, dims: list[int], *, batched: bool, nhwc: bool = False):
    mc = model_config_pb2()
    item = field.add()
    item.name, item.data_type = name, mc.DataType.Value(data_type)
    dims = dims[1:] if batched else dims
    if not dims:  # a per-image scalar ([batch] in the graph): clients send [N, 1]
        item.dims.append(1)
        item.reshape.SetInParent()
    else:
        item.dims.extend(dims)
    if nhwc and len(dims) == 3:
        item.format = mc.ModelInput.FORMAT_NHWC
    return item


def graph_config(name: str, model, *, platform: str | None, backend: str | None, max_batch_size: int, opts: RepoOptions,
                 kind: str, nhwc_input: str | None = None):
    """A ModelConfig for an ONNX graph's I/O (also used for a plan built from that graph)."""
    mc = model_config_pb2()
    inits = {t.name for t in model.graph.initializer}
    inputs = [v for v in model.graph.input if v.name not in inits]
    batched = max_batch_size > 0
    cfg = mc.ModelConfig(name=name, max_batch_size=max_batch_size)
    if platform:
        cfg.platform = platform
    if backend:
        cfg.backend = backend
    for vi in inputs:
        _add_io(cfg.input, vi.name, ONNX_TO_TRITON[vi.type.tensor_type.elem_type], _dims(vi), batched=batched,
                nhwc=vi.name == nhwc_input)
    for vi in model.graph.output:
        _add_io(cfg.output, vi.name, ONNX_TO_TRITON[vi.type.tensor_type.elem_type], _dims(vi), batched=batched)
    _schedule(cfg, max_batch_size, opts, kind)
    return cfg


def _schedule(cfg, max_batch_size: int, opts: RepoOptions, kind: str) -> None:
    mc = model_config_pb2()
    if max_batch_size > 0:
        cfg.dynamic_batching.max_queue_delay_microseconds = opts.max_delay_us
        cfg.dynamic_batching.preferred_batch_size.extend(sorted({b for b in (max_batch_size // 2, max_batch_size) if b > 0}))
    group = cfg.instance_group.add()
    group.kind, group.count = mc.ModelInstanceGroup.Kind.Value(kind), opts.count


def _batch_dynamic(model, image_tensor: str) -> bool:
    vi = next((v for v in list(model.graph.input) + list(model.graph.output) if v.name == image_tensor), None)
    return vi is not None and _dims(vi)[:1] == [-1]


def _engine_for(bundle, role: str, target_sm: str | None):
    if not target_sm:
        return None
    return next((e for e in bundle.manifest.engines if e.role == role and e.compute_capability == target_sm), None)


def _without_plugin_engine(name: str, graph, engine):
    """Triton's TensorRT backend is C++: an engine that needs StyleForge's Python plugin cannot load there. Use the
    ONNX graph on ONNX Runtime's backend instead (returns None) where it holds no custom node; else refuse."""
    import sys

    custom = sorted({f"{n.domain}::{n.op_type}" for n in graph.graph.node if n.domain not in ("", "ai.onnx")})
    if custom:
        raise StyleForgeError(
            f"{name}: engine {engine.file} needs the Python plugin {', '.join(engine.plugins)}, which Triton's TensorRT "
            f"backend cannot load, and the ONNX graph holds {', '.join(custom)}, which ONNX Runtime cannot run; "
            "export the bundle without the plugin (--wct ns) for Triton")
    print(f"styleforge: {name}: engine {engine.file} needs the Python plugin {', '.join(engine.plugins)}, which "
          "Triton's TensorRT backend cannot load; writing the ONNX graph for ONNX Runtime's backend instead",
          file=sys.stderr)
    return None


def write_onnx_model(mdir: Path, name: str, graph, spec, multiple: int, image_in, image_out, opts: RepoOptions,
                     scale: int = 1) -> None:
    """One ONNX model with its uint8 NHWC I/O in the graph (export/convert/io_uint8.py: the runtime's own rules,
    from the manifest's ``spec`` of that graph; `scale`: output size ÷ input size)."""
    import onnx

    from ..convert.io_uint8 import io_of, wrap_uint8_nhwc

    ins, outs = io_of(spec, image_in, image_out)
    wrapped = wrap_uint8_nhwc(graph, ins, outs, multiple_of=multiple if image_in else 1,
                              scale=scale if image_in else 1)
    mbs = opts.max_batch_size if _batch_dynamic(graph, image_in or image_out) else 0
    (mdir / "1").mkdir(parents=True)
    onnx.save(wrapped, str(mdir / "1" / "model.onnx"))
    if opts.backend == "python":
        from .python_models import GRAPH

        (mdir / "1" / "model.py").write_text(GRAPH.format())
        cfg = graph_config(name, wrapped, platform=None, backend="python", max_batch_size=mbs, opts=opts,
                           kind="KIND_CPU", nhwc_input=image_in)
    else:
        cfg = graph_config(name, wrapped, platform="onnxruntime_onnx", backend=None, max_batch_size=mbs, opts=opts,
                           kind=opts.kind, nhwc_input=image_in)
    (mdir / "config.pbtxt").write_text(to_text(cfg))


def write_plan_ensemble(repo: Path, name: str, graph, engine, plan_path: Path, multiple: int, image_in, image_out,
                        opts: RepoOptions) -> list[str]:
    """The four models of a TensorRT ensemble (see the module docstring); returns their names."""
    from .python_models import POST, PRE

    if image_in is None:
        raise StyleForgeError(f"{name}: TensorRT ensembles are written for image-to-image graphs only; "
                              "leave out --target-sm to get an ONNX model")
    mc = model_config_pb2()
    profile_max = min((dims[2][0] for p in engine.profiles for dims in p.values()), default=opts.max_batch_size)
    mbs = min(opts.max_batch_size, profile_max) if _batch_dynamic(graph, image_in) else 0
    nchw, out_nchw = "NCHW", "NCHW_OUT"
    names = {"pre": f"{name}_pre", "plan": f"{name}_plan", "post": f"{name}_post"}
    extra = [v for v in graph.graph.input if v.name != image_in and v.name not in {t.name for t in graph.graph.initializer}]

    def write(mname: str, cfg, files: dict[str, bytes | Path]):
        with atomic_dir(repo / mname, kind="triton-model") as tmp:
            write_marker(tmp, "triton-model")
            (tmp / "1").mkdir()
            for rel, data in files.items():
                if isinstance(data, Path):
                    shutil.copyfile(data, tmp / rel)
                else:
                    (tmp / rel).write_bytes(data)
            (tmp / "config.pbtxt").write_text(to_text(cfg))

    pre = mc.ModelConfig(name=names["pre"], backend="python", max_batch_size=mbs)
    _add_io(pre.input, image_in, "TYPE_UINT8", [-1, -1, -1, 3], batched=mbs > 0, nhwc=True)
    _add_io(pre.output, nchw, "TYPE_FP32", [-1, 3, -1, -1], batched=mbs > 0)
    _schedule(pre, mbs, opts, "KIND_CPU")
    write(names["pre"], pre, {"1/model.py": PRE.format(multiple=multiple, image=image_in, nchw=nchw).encode()})

    if opts.backend == "python":  # the same ensemble with the graph on ONNX Runtime in place of the plan
        from .python_models import GRAPH

        names["plan"] = f"{name}_graph"
        plan = graph_config(names["plan"], graph, platform=None, backend="python", max_batch_size=mbs, opts=opts,
                            kind="KIND_CPU")
        write(names["plan"], plan, {"1/model.py": GRAPH.format().encode(), "1/model.onnx": graph.SerializeToString()})
    else:
        plan = graph_config(names["plan"], graph, platform="tensorrt_plan", backend=None, max_batch_size=mbs, opts=opts,
                            kind="KIND_GPU")
        write(names["plan"], plan, {"1/model.plan": plan_path})

    post = mc.ModelConfig(name=names["post"], backend="python", max_batch_size=mbs)
    _add_io(post.input, nchw, "TYPE_FP32", [-1, 3, -1, -1], batched=mbs > 0)
    _add_io(post.input, image_in, "TYPE_UINT8", [-1, -1, -1, 3], batched=mbs > 0)
    _add_io(post.output, image_out, "TYPE_UINT8", [-1, -1, -1, 3], batched=mbs > 0)
    _schedule(post, mbs, opts, "KIND_CPU")
    write(names["post"], post, {"1/model.py": POST.format(image=image_in, nchw=nchw, output=image_out).encode()})

    ens = mc.ModelConfig(name=name, platform="ensemble", max_batch_size=mbs)
    _add_io(ens.input, image_in, "TYPE_UINT8", [-1, -1, -1, 3], batched=mbs > 0)
    for vi in extra:
        item = _add_io(ens.input, vi.name, ONNX_TO_TRITON[vi.type.tensor_type.elem_type], _dims(vi), batched=mbs > 0)
        # no reshape on an ensemble tensor: Triton infers the plan step's shape without it ([-1, 1]) and refuses an
        # ensemble whose tensor it infers otherwise ([-1]): "inconsistent shape" (seen in a real tritonserver)
        item.ClearField("reshape")
    _add_io(ens.output, image_out, "TYPE_UINT8", [-1, -1, -1, 3], batched=mbs > 0)
    steps = [(names["pre"], {image_in: image_in}, {nchw: nchw}),
             (names["plan"], {image_in: nchw, **{v.name: v.name for v in extra}}, {image_out: out_nchw}),
             (names["post"], {nchw: out_nchw, image_in: image_in}, {image_out: image_out})]
    for model_name, inputs, outputs in steps:
        step = ens.ensemble_scheduling.step.add()
        step.model_name, step.model_version = model_name, -1
        step.input_map.update(inputs)
        step.output_map.update(outputs)
    write(name, ens, {})
    return [names["pre"], names["plan"], names["post"], name]


def model_names(name: str, engine) -> list[str]:
    """The models one graph becomes: itself, or with an engine for the target GPU its ensemble's four."""
    return [f"{name}_pre", f"{name}_plan", f"{name}_post", name] if engine is not None else [name]


def _refuse_size_rules(path, sc) -> None:
    """Refuse, in one line, a fixed-size graph: the runtime runs it at any size in blended windows
    (runtime/fixed_size.py), which a Triton model of that one graph cannot do. (A scale-changing graph is written:
    the wrapper crops its output to scale × the input's size.)"""
    if sc.fixed_size:
        h, w = sc.fixed_size
        raise StyleForgeError(f"{path}: a fixed-size {h}x{w} graph: Triton would need the windowing the runtime does "
                              "(runtime/fixed_size.py); serve it with `styleforge serve`")


def _refuse_for_ensemble(name: str, spec, image_in: str, image_out: str, scale: int) -> None:
    """The ensemble's Python pre/post steps do plain RGB NCHW float32 in [0, 255] of the input's size; refuse, in one
    line, a graph whose image I/O or size rule they would get wrong (the ONNX model wraps any of them)."""
    from ..convert.io_uint8 import io_of

    plain = ("NCHW", "float32", 0.0, 255.0, False, None)
    ins, outs = io_of(spec, image_in, image_out)
    odd = [io.name for io in ins + outs if (io.layout, io.dtype, io.lo, io.hi, io.bgr, io.mean) != plain]
    if odd or scale != 1:
        why = (f"{', '.join(odd)} is not RGB NCHW float32 in [0, 255]" if odd else f"its output is {scale}x its input")
        raise StyleForgeError(f"{name}: the TensorRT ensemble's pre/post steps do plain images of the input's size and "
                              f"{why}; leave out --target-sm to get an ONNX model (the graph does its own I/O)")


def _plan(bundles, repo: Path, opts: RepoOptions) -> list[tuple]:
    """(path, bundle, role, image_in, image_out, name, engine) for every graph to write, after checking every name
    before anything is written: a name from the bundle's real folder name (``triton .`` inside a bundle), valid as a
    Triton model folder, not used twice, and every model folder it replaces one that `styleforge triton` wrote."""
    import onnx

    from ...runtime.artefacts import check_not_input, check_replaceable
    from ...runtime.bundle import open_bundle
    from ...runtime.serve.served import bundle_name

    jobs, used = [], {}
    for path in bundles:
        bundle = open_bundle(path)
        interface = bundle.interface
        graphs = interface_spec(interface).triton_graphs
        if not graphs:
            raise StyleForgeError(f"{path}: a {interface!r} bundle cannot be written as a Triton model "
                                  f"(supported: {', '.join(interfaces_with(lambda s: s.triton_graphs))})")
        _refuse_size_rules(path, bundle.manifest.size_constraints)
        base = bundle_name(Path(path).resolve())
        for role, image_in, image_out, suffix in ((t.role, t.image_input, t.image_output, t.suffix) for t in graphs):
            if role not in bundle.graphs:
                continue
            name, engine = base + suffix, _engine_for(bundle, role, opts.target_sm)
            if engine is not None and engine.plugins:
                engine = _without_plugin_engine(name, onnx.load(str(bundle.file(bundle.graph(role).file))), engine)
            if engine is not None and image_in:
                _refuse_for_ensemble(name, bundle.graph(role), image_in, image_out,
                                     int(bundle.manifest.size_constraints.scale))
            if not base or name.startswith(".") or not name.isprintable() or "/" in name or "\\" in name:
                raise StyleForgeError(f"{path}: {name!r} is not a usable Triton model name (rename the bundle folder)")
            for mname in model_names(name, engine):
                if mname in used:
                    raise StyleForgeError(f"{path} and {used[mname]} both give the Triton model name {mname!r}; "
                                          "rename one bundle folder (names are folder stems)")
                used[mname] = path
                check_not_input(repo / mname, bundles, flag="model folder")
                check_replaceable(repo / mname, "triton-model", flag=f"--out {repo}: model")
            jobs.append((path, bundle, role, image_in, image_out, name, engine))
    return jobs


def write_repository(bundles, out, options: RepoOptions | None = None) -> list[str]:
    """Write (or replace) the models of `bundles` in the repository `out`; returns the model names written. Every
    name is checked before anything is written (:func:`_plan`); only model folders this command wrote are replaced."""
    import onnx

    from .checker import check_model

    opts = options or RepoOptions()
    if opts.backend not in ("onnxruntime", "python"):
        raise StyleForgeError(f"--backend {opts.backend}: choose onnxruntime or python")
    if opts.max_batch_size < 0:
        raise StyleForgeError(f"--max-batch must be >= 0, got {opts.max_batch_size}")
    repo = Path(out)
    written = []
    for path, bundle, role, image_in, image_out, name, engine in _plan(bundles, repo, opts):
        multiple, scale = int(bundle.manifest.size_constraints.multiple_of), int(bundle.manifest.size_constraints.scale)
        graph = onnx.load(str(bundle.file(bundle.graph(role).file)))
        if engine is not None:
            names = write_plan_ensemble(repo, name, graph, engine, bundle.file(engine.file), multiple, image_in,
                                        image_out, opts)
        else:
            with atomic_dir(repo / name, kind="triton-model") as tmp:
                write_onnx_model(tmp, name, graph, bundle.graph(role), multiple, image_in, image_out, opts, scale)
                write_marker(tmp, "triton-model")
                problems = check_model(tmp, name=name)
                if problems:
                    raise StyleForgeError(f"{name}: the written model fails its check: {problems[0]}")
            names = [name]
        written += names
    return written
