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


def import_onnx(model_path, out, *, interface: str, value_range: str = "0,255", layout: str | None = None,
                multiple_of: int = 1, input_name: str | None = None, output_name: str | None = None,
                consts: dict[str, str] | None = None, style_vector: str | None = None, name: str | None = None,
                validate: bool = True) -> tuple[Path, dict | None]:
    """Write a bundle around the ONNX model at `model_path` (module docstring); returns (out, validation report)."""
    import onnx
    from onnx import TensorProto, helper

    from ...runtime.images import MIN_SIDE
    from ...runtime.io_plan import ImageIO, style_vector as style_vector_value
    from ...runtime.interfaces import find_interface
    from ..convert.lineage import import_lineage
    from ..core.bundle_writer import BundleWriter, gpu_tf32_profile, npz_bytes
    from ..core.onnx_files import load_onnx_confined
    from ..core.publish import check_bundle_output, publish_bundle

    ispec = find_interface(interface)
    if ispec is None or not ispec.import_names:
        raise StyleForgeError(f"--interface {interface!r}: choose one of {', '.join(importable())}")
    latent = ispec.main_input == "latent"
    src = Path(model_path)
    if not src.is_file():
        raise StyleForgeError(f"{src}: no such file")
    check_bundle_output(out, [src, *(consts or {}).values()])  # before any work: not an input, no folder of the user's
    try:
        model = load_onnx_confined(src)  # its external data checked to stay in its folder before anything is read
        onnx.checker.check_model(model)
    except StyleForgeError:
        raise
    except Exception as e:  # onnx raises its own types (DecodeError, ValidationError)
        raise StyleForgeError(f"{src}: not a valid ONNX model ({(str(e).splitlines() or [type(e).__name__])[0]})") from None
    if multiple_of < 1:
        raise StyleForgeError("--multiple-of must be at least 1")
    lo, hi = parse_range(value_range)
    g = model.graph
    inits = {i.name for i in g.initializer}
    inputs = [v for v in g.input if v.name not in inits]
    consts = dict(consts or {})
    for k in list(consts) + ([style_vector] if style_vector else []):
        if k not in [v.name for v in inputs]:
            raise StyleForgeError(f"{k!r} is not an input of the graph (it has: {', '.join(v.name for v in inputs)})")
    free = [v for v in inputs if v.name not in consts and v.name != style_vector]
    in_canon, out_canon = ispec.import_names
    floats = (TensorProto.FLOAT, TensorProto.FLOAT16)
    if latent:
        cands = [v.name for v in free if len(_dims(v)) == 2 and _elem(v) in floats]
    else:
        cands = [v.name for v in free if len(_dims(v)) == 4 and _elem(v) in floats]
    main_in = _pick(cands, input_name, "image input" if not latent else "latent input (N×nz)", "--input")
    extra = [v.name for v in free if v.name != main_in]
    if extra:
        raise StyleForgeError(f"the graph has other inputs ({', '.join(extra)}): hold them fixed with --const NAME=FILE.npy"
                              + (" or name a style-vector input with --style-vector NAME" if ispec.takes_style_vector else ""))
    outs4 = [v.name for v in g.output if len(_dims(v)) == 4]
    main_out = _pick(outs4, output_name, "image output", "--output")
    in_v = next(v for v in inputs if v.name == main_in)
    out_v = next(v for v in g.output if v.name == main_out)
    in_dims, out_dims = _dims(in_v), _dims(out_v)
    lay_in = _layout(in_dims, layout, main_in) if not latent else None
    lay_out = _layout(out_dims, layout, main_out)
    # extra graph outputs are dropped: the bundle's graph returns the image only
    for v in [v for v in g.output if v.name != main_out]:
        g.output.remove(v)
    const_arrays = {}
    for k, path in consts.items():
        try:
            a = np.load(path, allow_pickle=False)
        except Exception as e:
            raise StyleForgeError(f"--const {k}={path}: cannot read it as .npy ({e})") from None
        v = next(v for v in inputs if v.name == k)
        want = helper.tensor_dtype_to_np_dtype(_elem(v))
        dims = _dims(v)
        if a.ndim != len(dims) or any(isinstance(d, int) and d > 0 and d != s for d, s in zip(dims, a.shape)):
            raise StyleForgeError(f"--const {k}: array of shape {list(a.shape)} does not fit the input's shape {dims}")
        const_arrays[k] = np.ascontiguousarray(a.astype(want))
    num_styles = 1
    if style_vector:
        if not ispec.takes_style_vector:
            raise StyleForgeError("--style-vector is for stylizers")
        sv = next(v for v in inputs if v.name == style_vector)
        s = _dims(sv)[-1]
        if not isinstance(s, int) or s < 1 or len(_dims(sv)) not in (1, 2):
            raise StyleForgeError(f"--style-vector {style_vector}: needs shape [S] or [batch, S] with a fixed S, got {_dims(sv)}")
        num_styles = s
    rename_tensor(model, main_in, in_canon)
    rename_tensor(model, main_out, out_canon)
    data = model.SerializeToString()

    name = name or Path(out).name.removesuffix(".sfbundle") or src.stem
    rng_ann = [lo, hi]
    img_ann = lambda lay: {"layout": lay, "range": rng_ann, "color_order": "RGB"}  # noqa: E731
    ann = {out_canon: {**img_ann(lay_out), "description": f"{main_out} of {src.name}"}}
    if latent:
        ann[in_canon] = {"description": f"{main_in} of {src.name} (latent, standard normal)"}
    else:
        ann[in_canon] = {**img_ann(lay_in), "description": f"{main_in} of {src.name}"}
    config = ispec.imported_config(in_dims=in_dims, out_dims=out_dims, layout=lay_out, lo=lo, hi=hi,
                                   num_styles=num_styles, names=(main_in, main_out))
    for k in const_arrays:
        ann[k] = {"value_file": f"inputs/{k}.npy", "description": "held fixed (import-onnx --const)"}
    if style_vector:
        ann[style_vector] = {"purpose": "style_vector", "description": f"style selection / blend over {num_styles} styles"}
    precision = "fp16" if _elem(in_v) == TensorProto.FLOAT16 or _elem(out_v) == TensorProto.FLOAT16 else "fp32"
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 17)
    w = BundleWriter(name=name, method="imported", family="imported", interface=interface, config=config,
                     precision=precision, opset=opset, exporter=None)
    role = ispec.main_role
    spec = w.add_graph(role, data, annotations=ann, file=f"{role}.onnx")
    for k, a in const_arrays.items():
        import io

        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=False)
        w.add_file(f"inputs/{k}.npy", buf.getvalue())

    # golden cases: the original graph on ONNX Runtime CPU
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    try:
        session = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    except Exception as e:
        raise StyleForgeError(f"{src}: ONNX Runtime cannot load it ({(str(e).splitlines() or [''])[0]})") from None
    np_in = helper.tensor_dtype_to_np_dtype(_elem(in_v))

    def run(feeds):
        try:
            return session.run([out_canon], feeds)[0]
        except Exception as e:
            raise StyleForgeError(f"{src}: running it on ONNX Runtime failed ({(str(e).splitlines() or [''])[0]})") from None

    m = multiple_of
    cases = []
    if latent:
        fixed_side = None
        for k, seed in enumerate(GENERATOR_SEEDS[:2]):
            n = 1 if k == 0 or isinstance(in_dims[0], int) else 2
            z = np.random.default_rng(seed).standard_normal((n, in_dims[1])).astype(np_in)
            cases.append((f"z-seed{seed}-b{n}", {in_canon: z, **const_arrays}, f"batch {n}, z from default_rng({seed})"))
    else:
        from ...export.stylizer.exporter import golden_images
        from ...runtime.io_plan import pad_batch

        hw = [in_dims[2], in_dims[3]] if lay_in == "NCHW" else [in_dims[1], in_dims[2]]
        fixed_side = hw if all(isinstance(d, int) and d > 0 for d in hw) else None
        sizes = [tuple(fixed_side)] if fixed_side else list(GOLDEN_SIZES)
        io_in = ImageIO(in_canon, lay_in, np.dtype(np_in).name, lo, hi)
        for h, wd in sizes:
            img = golden_images([(h, wd)])[0].transpose(0, 2, 3, 1).astype(np.uint8)
            padded, _ = pad_batch(img, m, max(m, MIN_SIDE))
            feeds = {in_canon: io_in.encode(padded), **const_arrays}
            note = f", reflect-padded to {padded.shape[1]}x{padded.shape[2]} as the runtime does" if padded.shape[1:3] != img.shape[1:3] else ""
            if style_vector:
                svspec = spec.input(style_vector)
                feeds0 = {**feeds, style_vector: style_vector_value(svspec, num_styles, index=num_styles - 1)}
                cases.append((f"{h}x{wd}-style{num_styles - 1}", feeds0, f"{h}x{wd} photo{note}, style {num_styles - 1}"))
                blend = np.linspace(1, 2, num_styles) / np.linspace(1, 2, num_styles).sum()
                feeds = {**feeds, style_vector: style_vector_value(svspec, num_styles, weights=blend)}
                cases.append((f"{h}x{wd}-blend", feeds, f"{h}x{wd} photo{note}, styles blended {np.round(blend, 3).tolist()}"))
            else:
                cases.append((f"{h}x{wd}", feeds, f"{h}x{wd} photo{note}"))
    for case_name, feeds, desc in cases:
        y = run(feeds)
        w.add_golden(case_name, role, {k: v for k, v in feeds.items() if k not in const_arrays}, {out_canon: y},
                     description=desc + f"; output of the original {src.name} on ONNX Runtime CPU", reference="imported")
    scale = (hi - lo) / 255.0
    tol = Tolerance(max_abs=IMPORTED_TOLERANCE.max_abs * scale, mean_abs=IMPORTED_TOLERANCE.mean_abs * scale,
                    p99_abs=IMPORTED_TOLERANCE.p99_abs * scale, min_cosine=IMPORTED_TOLERANCE.min_cosine,
                    min_psnr=IMPORTED_TOLERANCE.min_psnr)
    w.set_tolerances(tol, basis="imported graph: the bundle's graph on ONNX Runtime CPU vs the original graph on ONNX "
                                "Runtime CPU (same kernels; measured identical); absolute limits scaled to the range "
                                f"[{lo:g}, {hi:g}]", profiles={"gpu-tf32": gpu_tf32_profile()})
    if latent:
        w.set_size_constraints(fixed_size=[config.resolution, config.resolution], multiple_of=1, min_side=config.resolution)
    elif fixed_side:
        w.set_size_constraints(fixed_size=list(fixed_side), multiple_of=1, min_side=min(fixed_side))
    else:
        w.set_size_constraints(multiple_of=m, min_side=max(m, 1), padding="reflect",
                               note=f"the runtime reflect-pads H and W to a multiple of {m} and crops back" if m > 1 else "")
    options = {"interface": interface, "range": value_range, "layout": layout or "auto", "multiple_of": m,
               "input": main_in, "output": main_out, "const": {k: str(v) for k, v in consts.items()},
               "style_vector": style_vector}
    w.set(lineage=import_lineage(src, options, {role: [f"renamed {main_in} → {in_canon}, {main_out} → {out_canon}"]}))
    return publish_bundle(w.write, out, inputs=[src, *consts.values()], validate=validate)  # staged, then validated
