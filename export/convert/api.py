"""Python API of ``styleforge convert``: ``convert_bundle(src, out, precision=..., calibration=[...], io=...)``.

Every graph of the parent bundle goes through clean-up (cleanup.py), then its precision (fp16.py; int8.py with
the interface's recipe, recipes.py), then, with ``io="uint8-nhwc"``, the in-graph I/O wrapper (io_uint8.py).
The new bundle keeps the parent's golden cases — the original fp32 PyTorch references — (their image tensors
converted to uint8 NHWC when the I/O is), gets the precision's tolerance profile (profiles.py), records its
lineage, and is validated on ONNX Runtime CPU before this returns.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from ...runtime.bundle import open_bundle
from ...runtime.errors import StyleForgeError
from ...runtime.interfaces import interface_spec
from ...runtime.io_plan import image_io
from ...runtime.manifest import GoldenCase, GraphSpec, SizeConstraints
from .io_uint8 import image_tensors

PRECISIONS = ("fp32", "fp16", "int8")
IOS = ("float-nchw", "uint8-nhwc")
_ANNOTATED = ("layout", "range", "color_order", "description", "value_file", "purpose")


def _annotations(graph: GraphSpec, wrapped: set[str]) -> dict[str, dict]:
    ann = {}
    for t in graph.inputs + graph.outputs:
        a = {k: getattr(t, k) for k in _ANNOTATED if getattr(t, k) is not None}
        if t.name in wrapped:
            a.update(layout="NHWC", range=[0, 255], color_order=t.color_order or "RGB",
                     description=(t.description + "; " if t.description else "") + "uint8 N×H×W×3; scaling, layout, "
                                 "padding and clamping inside the graph (--io uint8-nhwc)")
        ann[t.name] = a
    return ann


def _uint8_golden(parent, case: GoldenCase, inputs: dict, outputs: dict, ins: dict, outs: dict):
    """A golden case's arrays for the uint8 NHWC graph: image inputs as uint8 (they hold whole grey levels), image
    outputs as float NHWC grey levels (the fp32 reference, not rounded)."""
    g = parent.graph(case.graph)
    new_in, new_out = dict(inputs), dict(outputs)
    for name in ins:
        a = image_io(g.input(name)).to_unit255(inputs[name])
        if not np.allclose(a, np.rint(a), atol=1e-3):
            raise StyleForgeError(f"golden case {case.name}: input {name} is not whole grey levels; it cannot be fed "
                                  "to a uint8 graph")
        new_in[name] = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    for name in outs:
        if name in outputs:
            new_out[name] = np.ascontiguousarray(image_io(g.output(name)).to_unit255(outputs[name]), dtype=np.float32)
    return new_in, new_out


def convert_bundle(src, out, *, precision: str = "fp32", calibration=(), io: str = "float-nchw",
                   calibration_size: int = 512, calibration_method: str | None = None, validate: bool = True,
                   log=None) -> tuple[Path, dict | None]:
    """Write the `precision` / `io` variant of bundle `src` to `out`; returns (out, validation report or None)."""
    import onnx

    from ...runtime.backends import open_session, plugin_roles
    from ..core.bundle_writer import BundleWriter
    from ..core.publish import check_bundle_output, publish_bundle
    from .calibration import calibration_feeds, load_calibration
    from .cleanup import cleanup
    from .fp16 import FP32_OPS, fp16_op_types, to_fp16
    from .graph import ensure_node_names
    from .int8 import quantize
    from .io_uint8 import wrap_uint8_nhwc
    from .lineage import conversion_lineage
    from .profiles import converted_policy, loosest, with_rounding
    from .recipes import prepare_int8

    log = log or (lambda msg: None)
    if precision not in PRECISIONS:
        raise StyleForgeError(f"--precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if calibration_method not in (None, "minmax", "percentile", "entropy"):
        raise StyleForgeError(f"--calibration-method {calibration_method!r}: choose minmax, percentile or entropy")
    if io not in IOS:
        raise StyleForgeError(f"--io {io!r}: choose one of {', '.join(IOS)}")
    out = check_bundle_output(out, [src, *calibration])  # before any work: not an input, no folder of the user's
    parent = open_bundle(src)
    m = parent.manifest
    if m.precision != "fp32":
        raise StyleForgeError(f"{src}: a {m.precision} bundle; convert starts from an fp32 bundle (its parent: "
                              f"{m.lineage.parent.path if m.lineage and m.lineage.parent else 'the exported one'})")
    if m.lineage is not None and m.lineage.io == "uint8-nhwc":
        raise StyleForgeError(f"{src}: its graphs already take uint8 NHWC; convert its float parent instead")
    interface = m.model.interface
    ispec = interface_spec(interface)  # which roles int8 quantises, what calibration needs
    images, records = load_calibration(list(calibration), calibration_size) if calibration else ([], [])
    if precision == "int8" and ispec.calibration_needs_images and not images:
        raise StyleForgeError("--precision int8 needs calibration images: --calibration IMAGE|FOLDER|sample:NAME "
                              "(several photos like the ones it will see)")
    uint8 = io == "uint8-nhwc"
    multiple = int(m.size_constraints.multiple_of)
    w = BundleWriter(name=out.name.removesuffix(".sfbundle") or m.model.name, method=m.model.method, family=m.model.family,
                     interface=interface, config=m.model.config, loss_network=m.loss_network, precision=precision,
                     opset=m.opset, step=m.model.step, exporter=m.exporter)
    stats = None
    passes: dict[str, list[str]] = {}
    fp16_ops: dict[str, list[str]] = {}
    used_method = None
    image_outputs, uint8_outputs, fp32_outputs = {}, set(), set()
    wrapped_in: dict[str, dict] = {}
    # tiling graphs (export/tiling/) are derived from the main graph and share its weights; they are not
    # converted (`styleforge tiling add NEW.sfbundle` derives them again from the converted graph)
    tiling_roles = {r for t in m.tiling for r in (t.stats_role, t.tiled_role, t.probe_role)}
    try:
        for g in m.graphs:
            if g.role in tiling_roles:
                passes[g.role] = ["left out (tiling graph: `styleforge tiling add` derives it from the converted graph)"]
                continue
            data = parent.file(g.file).read_bytes()
            ins, outs = image_tensors(g)
            image_outputs.update({k: (io.hi - io.lo) / 255.0 for k, io in outs.items()})
            if g.role in plugin_roles(m):
                w.add_graph(g.role, data, annotations=_annotations(g, set()), file=g.file)
                passes[g.role] = ["copied unchanged (TensorRT plugin graph)"]
                continue
            log(f"{g.role}: clean-up")
            model, p = cleanup(onnx.load(str(parent.file(g.file))))  # with its external weights, if any
            if precision == "fp16":
                log(f"{g.role}: fp16")
                model = to_fp16(model)
                fp16_ops[g.role] = fp16_op_types(model)
                p.append("fp16 (explicit Casts; fp32: " + ", ".join(o for o in FP32_OPS if o.startswith(("Instance", "Reduce", "MatMul")))
                         + ", …; graph I/O fp32)")
            elif precision == "int8" and ispec.quantises(g.role):
                if ispec.calibration_helper_role and stats is None:
                    stats = open_session(parent, ispec.calibration_helper_role, "ort-cpu")
                feeds = calibration_feeds(parent, g.role, images, stats)
                log(f"{g.role}: int8 ({len(feeds)} calibration inputs)")
                model, recipe, pre = prepare_int8(ensure_node_names(model), interface, g.role, feeds, multiple)
                if calibration_method:
                    recipe.method = calibration_method
                used_method = recipe.method
                model = quantize(model, feeds, recipe)
                p += pre + [recipe.describe()]
            elif precision == "int8":
                p.append(f"kept fp32 ({ispec.int8_kept_note})")
                fp32_outputs |= {t.name for t in g.outputs}
            if uint8 and (ins or outs):
                model = wrap_uint8_nhwc(model, list(ins.values()), list(outs.values()), multiple_of=multiple if ins else 1)
                p.append(f"uint8 NHWC I/O ({', '.join(list(ins) + list(outs))})" + (f", padded to ×{multiple} in graph (reflect, edge where a side is shorter than its pad)" if ins and multiple > 1 else ""))
                wrapped_in[g.role] = ins
                uint8_outputs |= set(outs)
            passes[g.role] = p
            w.add_graph(g.role, model.SerializeToString(), annotations=_annotations(g, set(ins) | set(outs) if uint8 else set()),
                        file=g.file)
            for t in g.inputs:
                if t.value_file:
                    w.add_file(t.value_file, parent.file(t.value_file).read_bytes())
    finally:
        if stats is not None:
            stats.deactivate()

    policy = converted_policy(m.tolerances, interface, precision, image_outputs, uint8_outputs, fp32_outputs)
    for case in m.golden:
        if case.graph in tiling_roles:
            continue
        prec = policy.profile(precision)
        prec_image = next((prec.per_output[o] for o in case.outputs if o in prec.per_output), prec.default) \
            if precision != "fp32" else None
        inputs, outputs = parent.golden_arrays(case)
        if uint8 and case.graph in wrapped_in:
            g = parent.graph(case.graph)
            inputs, outputs = _uint8_golden(parent, case, inputs, outputs, wrapped_in[case.graph], image_tensors(g)[1])
        tol = case.tolerance
        if tol is not None:  # a case's own (looser) limit still has to admit what the conversion adds
            tol = loosest(tol, prec_image) if prec_image is not None else tol
            tol = with_rounding(tol) if uint8 and set(case.outputs) & uint8_outputs and precision == "fp32" else tol
        w.add_golden(case.name, case.graph, inputs, outputs, case.description, reference=case.reference, tolerance=tol)
    w.manifest.tolerances = policy
    sc = copy.deepcopy(m.size_constraints)
    if uint8 and multiple > 1:
        sc = SizeConstraints(multiple_of=1, min_side=max(sc.min_side, multiple), fixed_size=sc.fixed_size, padding="in-graph",
                             note=f"the graph reflect-pads H and W to a multiple of {multiple} itself and crops back")
    w.manifest.size_constraints = sc
    options = {"precision": precision, "io": io}
    if precision == "fp16":
        options["fp32_ops"] = list(FP32_OPS)
        options["fp16_ops"] = fp16_ops  # per graph, the op types computing in fp16 (validation's fallback report)
    if records:
        options["calibration_size"] = calibration_size
    if used_method:
        options["calibration_method"] = used_method
    w.set(source_checkpoint=m.source_checkpoint, training=dict(m.training),
          lineage=conversion_lineage(parent, precision, io, options, passes, records))
    out, report = publish_bundle(w.write, out, inputs=[src, *calibration], validate=validate)  # staged, then validated
    log(f"wrote {out}")
    return out, report
