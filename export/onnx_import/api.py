"""Python API of ``styleforge import-onnx``: ``import_onnx(MODEL.onnx, OUT, interface=..., value_range=..., ...)``.

The graph is kept as it is, except that its image input and output are renamed to the interface's names
(stylizer: ``image`` → ``stylized``; translator: ``image`` → ``translated``; generator: ``z`` → ``image``) so
the runtime, convert, bench and the server treat it like any bundle. What a graph cannot say comes from the
options and goes into the manifest: the value range and layout of its images (``TensorSpec.range`` /
``layout``, honoured by runtime/io_plan.py), the size multiple (reflect-pad and crop), inputs held fixed
(``--const NAME=FILE.npy``: stored in the bundle, ``TensorSpec.value_file``) and a style-vector input
(``--style-vector NAME``: ``TensorSpec.purpose = "style_vector"``, fed one-hot from ``--style-index`` or a blend
from ``--style-weights``). Golden cases are the original graph's own outputs on ONNX Runtime CPU at sizes
chosen here (reference ``imported``), so validation checks that the bundle runs the model unchanged.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...runtime.errors import StyleForgeError
from ...runtime.io_plan import LAYOUTS, RANGES
from ...runtime.manifest import Tolerance



def importable() -> list[str]:
    """The interfaces ``import-onnx`` makes bundles of: those whose spec names canonical import tensors."""
    from ...runtime.interfaces import interfaces_with

    return interfaces_with(lambda s: s.import_names)


#: golden sizes (rounded up to the multiple; the second is padded as the runtime pads)
GOLDEN_SIZES = ((64, 64), (70, 90))
#: ``--normalize imagenet``: torchvision's ImageNet statistics on [0, 1] RGB
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
GENERATOR_SEEDS = (1000, 1001, 1002)
#: ORT vs ORT on the same graph: the same kernels on the same machine, up to thread scheduling of reductions.
#: Limits on [0, 255] (scaled to the graph's own range); measured 0 on the test graphs.
IMPORTED_TOLERANCE = Tolerance(max_abs=0.05, mean_abs=0.005, p99_abs=0.02, min_cosine=0.999999, min_psnr=80.0)


def _elem(v) -> int:
    return v.type.tensor_type.elem_type


def _dims(v) -> list:
    return [d.dim_param if d.HasField("dim_param") else (d.dim_value if d.HasField("dim_value") else None)
            for d in v.type.tensor_type.shape.dim]


def rename_tensor(model, old: str, new: str) -> None:
    """Rename a graph input/output and every reference to it (in place)."""
    if old == new:
        return
    g = model.graph
    taken = {v.name for v in list(g.input) + list(g.output) + list(g.value_info)} | {o for n in g.node for o in n.output}
    if new in taken:
        raise StyleForgeError(f"cannot rename {old!r} to {new!r}: the graph already has a tensor {new!r}")
    for v in list(g.input) + list(g.output) + list(g.value_info):
        if v.name == old:
            v.name = new
    for n in g.node:
        n.input[:] = [new if i == old else i for i in n.input]
        n.output[:] = [new if o == old else o for o in n.output]


def _pick(names: list[str], given: str | None, what: str, flag: str) -> str:
    if given is not None:
        if given not in names:
            raise StyleForgeError(f"{flag} {given!r}: the graph has no such {what} (it has: {', '.join(names)})")
        return given
    if len(names) != 1:
        raise StyleForgeError(f"the graph has {len(names)} candidate {what}s ({', '.join(names) or 'none'}); "
                              f"name the one to use with {flag}")
    return names[0]


def _layout(dims: list, given: str | None, name: str) -> str:
    if given:
        if given.upper() not in LAYOUTS:
            raise StyleForgeError(f"--layout {given!r}: choose NCHW or NHWC")
        return given.upper()
    if dims[1] == 3 and dims[3] != 3:
        return "NCHW"
    if dims[3] == 3 and dims[1] != 3:
        return "NHWC"
    raise StyleForgeError(f"{name}: cannot tell NCHW from NHWC from its shape {dims}; pass --layout")


def parse_range(text: str) -> tuple[float, float]:
    key = text.replace(" ", "")
    if key not in RANGES:
        raise StyleForgeError(f"--range {text!r}: choose one of {' | '.join(RANGES)}")
    return RANGES[key]


@dataclass
class _Plan:
    """What import-onnx decided about the graph: its image input and output, their layouts, range, held inputs."""

    src: Path
    model: object                        # onnx.ModelProto (renamed in place)
    interface: str
    main_in: str
    main_out: str
    in_dims: list
    out_dims: list
    lay_in: str | None
    lay_out: str
    lo: float
    hi: float
    np_in: object                        # numpy dtype of the image (or latent) input
    precision: str
    const_arrays: dict = field(default_factory=dict)
    style_vector: str | None = None
    num_styles: int = 1
    color_order: str = "RGB"
    mean: list[float] | None = None      # the input's per-channel normalisation (after --range)
    std: list[float] | None = None
    scale: int | None = None             # output = input × scale (None: read from the graph)

    @property
    def spec(self):
        """The interface's spec (runtime/interfaces.py): canonical names, main role, config."""
        from ...runtime.interfaces import interface_spec

        return interface_spec(self.interface)

    @property
    def latent(self) -> bool:
        """Whether the main input is a latent (N×nz) rather than an image."""
        return self.spec.main_input == "latent"

    @property
    def canon(self) -> tuple[str, str]:
        return self.spec.import_names

    @property
    def role(self) -> str:
        return self.spec.main_role


def _load(src: Path):
    """The ONNX model at `src`, checked; its external data must stay in its folder (one-line errors)."""
    import onnx

    from ..core.onnx_files import load_onnx_confined

    if not src.is_file():
        raise StyleForgeError(f"{src}: no such file")
    try:
        model = load_onnx_confined(src)  # its external data checked to stay in its folder before anything is read
        onnx.checker.check_model(model)
    except StyleForgeError:
        raise
    except Exception as e:  # onnx raises its own types (DecodeError, ValidationError)
        raise StyleForgeError(f"{src}: not a valid ONNX model ({(str(e).splitlines() or [type(e).__name__])[0]})") from None
    return model


def _graph_inputs(model) -> list:
    inits = {i.name for i in model.graph.initializer}
    return [v for v in model.graph.input if v.name not in inits]


def _pick_io(model, ispec, input_name, output_name, held: list[str], style_vector) -> tuple:
    """(image input, image output) value infos, after refusing inputs left unexplained."""
    from onnx import TensorProto

    latent = ispec.main_input == "latent"

    inputs = _graph_inputs(model)
    for k in held + ([style_vector] if style_vector else []):
        if k not in [v.name for v in inputs]:
            raise StyleForgeError(f"{k!r} is not an input of the graph (it has: {', '.join(v.name for v in inputs)})")
    free = [v for v in inputs if v.name not in held and v.name != style_vector]
    floats = (TensorProto.FLOAT, TensorProto.FLOAT16) + (() if latent else (TensorProto.UINT8,))
    rank = 2 if latent else 4
    cands = [v.name for v in free if len(_dims(v)) == rank and _elem(v) in floats]
    main_in = _pick(cands, input_name, "image input" if not latent else "latent input (N×nz)", "--input")
    extra = [v.name for v in free if v.name != main_in]
    if extra:
        raise StyleForgeError(f"the graph has other inputs ({', '.join(extra)}): hold them fixed with --const NAME=FILE.npy"
                              + (" or name a style-vector input with --style-vector NAME" if ispec.takes_style_vector else ""))
    main_out = _pick([v.name for v in model.graph.output if len(_dims(v)) == 4], output_name, "image output", "--output")
    return next(v for v in inputs if v.name == main_in), next(v for v in model.graph.output if v.name == main_out)


def _read_consts(model, consts: dict[str, str]) -> dict[str, np.ndarray]:
    """The arrays of ``--const NAME=FILE.npy``, checked against the inputs' shapes and cast to their dtypes."""
    from onnx import helper

    inputs = {v.name: v for v in _graph_inputs(model)}
    out = {}
    for k, path in consts.items():
        try:
            a = np.load(path, allow_pickle=False)
        except Exception as e:
            raise StyleForgeError(f"--const {k}={path}: cannot read it as .npy ({e})") from None
        dims = _dims(inputs[k])
        if a.ndim != len(dims) or any(isinstance(d, int) and d > 0 and d != s for d, s in zip(dims, a.shape)):
            raise StyleForgeError(f"--const {k}: array of shape {list(a.shape)} does not fit the input's shape {dims}")
        out[k] = np.ascontiguousarray(a.astype(helper.tensor_dtype_to_np_dtype(_elem(inputs[k]))))
    return out


def _num_styles(model, ispec, style_vector: str | None) -> int:
    if not style_vector:
        return 1
    if not ispec.takes_style_vector:
        raise StyleForgeError("--style-vector is for stylizers")
    dims = _dims(next(v for v in _graph_inputs(model) if v.name == style_vector))
    if not isinstance(dims[-1], int) or dims[-1] < 1 or len(dims) not in (1, 2):
        raise StyleForgeError(f"--style-vector {style_vector}: needs shape [S] or [batch, S] with a fixed S, got {dims}")
    return dims[-1]


def _normalisation(normalize: str | None, mean, std, value_range: str) -> tuple[list | None, list | None]:
    """(mean, std) of the input's per-channel normalisation from ``--normalize`` / ``--mean`` / ``--std``."""
    if normalize is not None:
        if normalize != "imagenet":
            raise StyleForgeError(f"--normalize {normalize!r}: choose imagenet (or give --mean and --std)")
        if mean is not None or std is not None:
            raise StyleForgeError("--normalize imagenet and --mean/--std contradict each other: give one of them")
        if value_range.replace(" ", "") != "0,1":
            raise StyleForgeError("--normalize imagenet is defined on [0, 1] images: pass --range 0,1")
        return list(IMAGENET_MEAN), list(IMAGENET_STD)
    if (mean is None) != (std is None):
        raise StyleForgeError("--mean and --std go together (three values each, in the graph's channel order)")
    if mean is None:
        return None, None
    mean, std = [float(v) for v in mean], [float(v) for v in std]
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise StyleForgeError(f"--mean / --std: three values each, std > 0 (got {mean} / {std})")
    return mean, std


def _plan(src: Path, interface: str, value_range: str, layout, input_name, output_name, consts, style_vector,
          color_order: str = "RGB", normalize=None, mean=None, std=None, scale: int | None = None,
          fed: tuple[str, ...] = ()) -> _Plan:
    """Read the graph and decide its I/O (module docstring); renames the image tensors to the interface's names."""
    from onnx import TensorProto, helper

    from ...runtime.interfaces import interface_spec

    if color_order.upper() not in ("RGB", "BGR"):
        raise StyleForgeError(f"--color-order {color_order!r}: choose RGB or BGR")
    if scale is not None and scale < 1:
        raise StyleForgeError("--scale must be a whole number of at least 1")
    mean, std = _normalisation(normalize, mean, std, value_range)
    model = _load(src)
    lo, hi = parse_range(value_range)
    consts = dict(consts or {})
    ispec = interface_spec(interface)
    in_v, out_v = _pick_io(model, ispec, input_name, output_name, list(consts) + list(fed), style_vector)
    in_dims, out_dims = _dims(in_v), _dims(out_v)
    lay_in = _layout(in_dims, layout, in_v.name) if ispec.main_input != "latent" else None
    lay_out = _layout(out_dims, layout, out_v.name)
    for v in [v for v in model.graph.output if v.name != out_v.name]:
        model.graph.output.remove(v)  # extra graph outputs are dropped: the bundle's graph returns the image only
    fp16 = TensorProto.FLOAT16 in (_elem(in_v), _elem(out_v))
    if _elem(in_v) == TensorProto.UINT8 and (mean is not None or value_range.replace(" ", "") != "0,255"):
        raise StyleForgeError(f"{in_v.name} is a uint8 input: it takes grey levels 0..255 as they are, so --range "
                              "other than 0,255 and --normalize / --mean / --std contradict the graph")
    plan = _Plan(src, model, interface, in_v.name, out_v.name, in_dims, out_dims, lay_in, lay_out, lo, hi,
                 helper.tensor_dtype_to_np_dtype(_elem(in_v)), "fp16" if fp16 else "fp32",
                 _read_consts(model, consts), style_vector, _num_styles(model, ispec, style_vector),
                 color_order.upper(), mean, std, scale)
    if not plan.latent:
        plan.scale = _graph_scale(plan)
    rename_tensor(model, plan.main_in, plan.canon[0])
    rename_tensor(model, plan.main_out, plan.canon[1])
    return plan


def _config(plan: _Plan):
    """The interface's typed ``model.config`` for the imported graph (its spec makes it)."""
    return plan.spec.imported_config(in_dims=plan.in_dims, out_dims=plan.out_dims, layout=plan.lay_out, lo=plan.lo,
                                     hi=plan.hi, num_styles=plan.num_styles, names=(plan.main_in, plan.main_out))


def _annotations(plan: _Plan) -> dict[str, dict]:
    """What the manifest says about each tensor that the graph cannot (layout, range, held values, purpose)."""
    in_canon, out_canon = plan.canon
    name = plan.src.name

    def img(lay):
        return {"layout": lay, "range": [plan.lo, plan.hi], "color_order": plan.color_order}

    ann = {out_canon: {**img(plan.lay_out), "description": f"{plan.main_out} of {name}"}}
    if plan.latent:
        ann[in_canon] = {"description": f"{plan.main_in} of {name} (latent, standard normal)"}
    else:
        norm = {"mean": plan.mean, "std": plan.std} if plan.mean is not None else {}
        ann[in_canon] = {**img(plan.lay_in), **norm, "description": f"{plan.main_in} of {name}"
                         + (", normalised (v − mean) / std per channel" if norm else "")}
    for k in plan.const_arrays:
        ann[k] = {"value_file": f"inputs/{k}.npy", "description": "held fixed (import-onnx --const)"}
    if plan.style_vector:
        ann[plan.style_vector] = {"purpose": "style_vector",
                                  "description": f"style selection / blend over {plan.num_styles} styles"}
    return ann


def _original_runner(plan: _Plan, data: bytes):
    """feeds -> the image output of the original graph on ONNX Runtime CPU (one-line errors)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    try:
        session = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    except Exception as e:
        raise StyleForgeError(f"{plan.src}: ONNX Runtime cannot load it ({(str(e).splitlines() or [''])[0]})") from None

    def run(feeds):
        try:
            return session.run([plan.canon[1]], feeds)[0]
        except Exception as e:
            raise StyleForgeError(f"{plan.src}: running it on ONNX Runtime failed ({(str(e).splitlines() or [''])[0]})") from None
    return run


def _hw(dims: list, layout: str) -> list:
    return [dims[2], dims[3]] if layout == "NCHW" else [dims[1], dims[2]]


def _graph_scale(plan: _Plan) -> int | None:
    """Output size ÷ input size when the graph's shapes say it (both fixed), checked against ``--scale``; None when
    the shapes do not say (the golden run then measures it)."""
    hi, ho = _hw(plan.in_dims, plan.lay_in), _hw(plan.out_dims, plan.lay_out)
    if not all(isinstance(d, int) and d > 0 for d in hi + ho):
        return plan.scale
    if ho[0] % hi[0] or ho[1] % hi[1] or ho[0] // hi[0] != ho[1] // hi[1]:
        raise StyleForgeError(f"{plan.main_out} is {ho[0]}x{ho[1]} for a {hi[0]}x{hi[1]} input: not a whole "
                              "multiple of the input on both sides")
    k = ho[0] // hi[0]
    if plan.scale is not None and plan.scale != k:
        raise StyleForgeError(f"--scale {plan.scale} contradicts the graph: {hi[0]}x{hi[1]} in, {ho[0]}x{ho[1]} out "
                              f"(scale {k})")
    return k


def _fixed_side(plan: _Plan) -> list[int] | None:
    """The graph's fixed [H, W] when both are fixed in its image input, else None."""
    d = plan.in_dims
    hw = [d[2], d[3]] if plan.lay_in == "NCHW" else [d[1], d[2]]
    return hw if all(isinstance(v, int) and v > 0 for v in hw) else None


def _image_cases(plan: _Plan, spec, m: int) -> list[tuple[str, dict, str]]:
    """Golden inputs of an image graph: photos at the graph's fixed size or at :data:`GOLDEN_SIZES` (padded to the
    multiple as the runtime pads), with one style and a blend when it has a style vector."""
    from ...export.stylizer.exporter import golden_images
    from ...runtime.images import MIN_SIDE
    from ...runtime.io_plan import image_io, pad_batch, style_vector as style_vector_value

    in_canon = plan.canon[0]
    fixed = _fixed_side(plan)
    io_in = image_io(spec.input(in_canon))
    n = plan.in_dims[0] if isinstance(plan.in_dims[0], int) and plan.in_dims[0] > 0 else 1  # a fixed batch
    k = plan.num_styles
    cases = []
    for h, wd in [tuple(fixed)] if fixed else list(GOLDEN_SIZES):
        img = golden_images([(h, wd)])[0].transpose(0, 2, 3, 1).astype(np.uint8)
        padded, _ = pad_batch(np.concatenate([img] * n), m, max(m, MIN_SIDE))
        feeds = {in_canon: io_in.encode(padded), **plan.const_arrays}
        note = (f", reflect-padded to {padded.shape[1]}x{padded.shape[2]} as the runtime does"
                if padded.shape[1:3] != img.shape[1:3] else "")
        if not plan.style_vector:
            cases.append((f"{h}x{wd}", feeds, f"{h}x{wd} photo{note}"))
            continue
        sv = spec.input(plan.style_vector)
        one = {**feeds, plan.style_vector: style_vector_value(sv, k, index=k - 1)}
        cases.append((f"{h}x{wd}-style{k - 1}", one, f"{h}x{wd} photo{note}, style {k - 1}"))
        blend = np.linspace(1, 2, k) / np.linspace(1, 2, k).sum()
        mix = {**feeds, plan.style_vector: style_vector_value(sv, k, weights=blend)}
        cases.append((f"{h}x{wd}-blend", mix, f"{h}x{wd} photo{note}, styles blended {np.round(blend, 3).tolist()}"))
    return cases


def _latent_cases(plan: _Plan) -> list[tuple[str, dict, str]]:
    cases = []
    for k, seed in enumerate(GENERATOR_SEEDS[:2]):
        n = 1 if k == 0 or isinstance(plan.in_dims[0], int) else 2
        z = np.random.default_rng(seed).standard_normal((n, plan.in_dims[1])).astype(plan.np_in)
        cases.append((f"z-seed{seed}-b{n}", {plan.canon[0]: z, **plan.const_arrays}, f"batch {n}, z from default_rng({seed})"))
    return cases


def _measure_scale(plan: _Plan, in_shape, out_shape) -> None:
    """The output ÷ input size of one golden run: sets ``plan.scale`` or refuses a contradiction in one line."""
    hi, ho = _hw(list(in_shape), plan.lay_in), _hw(list(out_shape), plan.lay_out)
    k = ho[0] // hi[0]
    if ho[0] != k * hi[0] or ho[1] != k * hi[1] or k < 1:
        raise StyleForgeError(f"{plan.src.name}: a {hi[0]}x{hi[1]} input gave a {ho[0]}x{ho[1]} output, not a whole "
                              "multiple of the input on both sides; StyleForge runs image graphs whose output is "
                              "the input's size × K")
    if plan.scale is not None and plan.scale != k:
        raise StyleForgeError(f"--scale {plan.scale} contradicts the graph: a {hi[0]}x{hi[1]} input gave "
                              f"{ho[0]}x{ho[1]} (scale {k})")
    plan.scale = k


def _add_goldens(w, plan: _Plan, spec, data: bytes, m: int, extra: dict | None = None) -> None:
    """Golden cases: the original graph's own outputs on ONNX Runtime CPU (`extra`: more inputs fed to every case),
    and the tolerance they are held to."""
    from ..core.bundle_writer import gpu_tf32_profile

    run = _original_runner(plan, data)
    cases = _latent_cases(plan) if plan.latent else _image_cases(plan, spec, m)
    for case_name, feeds, desc in cases:
        feeds = {**feeds, **(extra or {})}
        y = run(feeds)
        if not plan.latent:
            _measure_scale(plan, feeds[plan.canon[0]].shape, y.shape)
        w.add_golden(case_name, plan.role, {k: v for k, v in feeds.items() if k not in plan.const_arrays},
                     {plan.canon[1]: y}, reference="imported",
                     description=desc + f"; output of the original {plan.src.name} on ONNX Runtime CPU")
    scale = (plan.hi - plan.lo) / 255.0
    t = IMPORTED_TOLERANCE
    tol = Tolerance(max_abs=t.max_abs * scale, mean_abs=t.mean_abs * scale, p99_abs=t.p99_abs * scale,
                    min_cosine=t.min_cosine, min_psnr=t.min_psnr)
    w.set_tolerances(tol, basis="imported graph: the bundle's graph on ONNX Runtime CPU vs the original graph on ONNX "
                                "Runtime CPU (same kernels; measured identical); absolute limits scaled to the range "
                                f"[{plan.lo:g}, {plan.hi:g}]", profiles={"gpu-tf32": gpu_tf32_profile()})


def _set_size_constraints(w, plan: _Plan, config, m: int) -> None:
    fixed = _fixed_side(plan) if not plan.latent else None
    if plan.latent:
        w.set_size_constraints(fixed_size=[config.resolution, config.resolution], multiple_of=1, min_side=config.resolution)
    elif fixed:
        w.set_size_constraints(fixed_size=list(fixed), multiple_of=1, min_side=1, scale=plan.scale or 1,
                               note=f"the graph takes {fixed[0]}x{fixed[1]} only: the runtime runs other sizes in "
                                    "overlapping windows of that size (--fit tiles) or resized to it (--fit resize)")
    else:
        w.set_size_constraints(multiple_of=m, min_side=max(m, 1), padding="reflect", scale=plan.scale or 1,
                               note=f"the runtime reflect-pads H and W to a multiple of {m} and crops back" if m > 1 else "")


def import_onnx(model_path, out, *, interface: str | None = None, value_range: str = "0,255", layout: str | None = None,
                multiple_of: int = 1, input_name: str | None = None, output_name: str | None = None,
                consts: dict[str, str] | None = None, style_vector: str | None = None, name: str | None = None,
                validate: bool = True, color_order: str = "RGB", normalize: str | None = None, mean=None, std=None,
                scale: int | None = None, style_encoder=None, style_input: str | None = None,
                style_size: int = 256) -> tuple[Path, dict | None]:
    """Write a bundle around the ONNX model at `model_path` (module docstring); returns (out, validation report).
    `style_encoder`: a two-graph arbitrary-style model, `model_path` being its transformer (arbitrary.py)."""
    from ...runtime.interfaces import find_interface
    from ..convert.lineage import import_lineage
    from ..core.bundle_writer import BundleWriter
    from ..core.publish import check_bundle_output, publish_bundle

    if style_encoder is not None or style_input is not None:
        if interface is not None or style_encoder is None or style_input is None or consts \
                or style_vector or scale:
            raise StyleForgeError("--style-encoder PREDICT.onnx and --style-input NAME go together and make an "
                                  "arbitrary-style bundle: no --interface, --const, --style-vector or --scale with them")
        from .arbitrary import import_arbitrary

        return import_arbitrary(model_path, out, style_encoder=style_encoder, style_input=style_input,
                                style_size=style_size, value_range=value_range, layout=layout, multiple_of=multiple_of,
                                input_name=input_name, output_name=output_name, color_order=color_order,
                                normalize=normalize, mean=mean, std=std, name=name, validate=validate)
    ispec = find_interface(interface) if interface else None
    if ispec is None or not ispec.import_names:
        raise StyleForgeError(f"--interface {interface!r}: choose one of {', '.join(importable())} (or --style-encoder "
                              "for a two-graph arbitrary-style model)")
    if multiple_of < 1:
        raise StyleForgeError("--multiple-of must be at least 1")
    src = Path(model_path)
    if not src.is_file():
        raise StyleForgeError(f"{src}: no such file")
    check_bundle_output(out, [src, *(consts or {}).values()])  # before any work: not an input, no folder of the user's
    plan = _plan(src, interface, value_range, layout, input_name, output_name, consts, style_vector, color_order,
                 normalize, mean, std, scale)
    data = plan.model.SerializeToString()
    config = _config(plan)
    opset = next((o.version for o in plan.model.opset_import if o.domain in ("", "ai.onnx")), 17)
    w = BundleWriter(name=name or Path(out).name.removesuffix(".sfbundle") or src.stem, method="imported",
                     family="imported", interface=interface, config=config, precision=plan.precision, opset=opset,
                     exporter=None)
    spec = w.add_graph(plan.role, data, annotations=_annotations(plan), file=f"{plan.role}.onnx")
    for k, a in plan.const_arrays.items():
        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=False)
        w.add_file(f"inputs/{k}.npy", buf.getvalue())
    _add_goldens(w, plan, spec, data, multiple_of)
    _set_size_constraints(w, plan, config, multiple_of)
    options = {"interface": interface, "range": value_range, "layout": layout or "auto", "multiple_of": multiple_of,
               "input": plan.main_in, "output": plan.main_out, "const": {k: str(v) for k, v in (consts or {}).items()},
               "style_vector": style_vector, "color_order": plan.color_order, "mean": plan.mean, "std": plan.std,
               "scale": plan.scale}
    renamed = f"renamed {plan.main_in} → {plan.canon[0]}, {plan.main_out} → {plan.canon[1]}"
    w.set(lineage=import_lineage(src, options, {plan.role: [renamed]}, plan.precision))
    return publish_bundle(w.write, out, inputs=[src, *(consts or {}).values()], validate=validate)  # staged, validated
