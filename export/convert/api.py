"""Python API of ``styleforge convert``: ``convert_bundle(src, out, precision=..., calibration=[...], io=...)``.

Every graph of the parent bundle goes through the conversion passes (passes.py): clean-up (cleanup.py), then its
precision (fp16.py; int8.py with the interface's recipe, recipes.py), then, with ``io="uint8-nhwc"``, the in-graph
I/O wrapper (io_uint8.py); the notes of the passes that ran are the graph's lineage.
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
from .profiles import loosest, with_rounding

PRECISIONS = ("fp32", "fp16", "int8")
IOS = ("float-nchw", "uint8-nhwc")
_ANNOTATED = ("layout", "range", "color_order", "mean", "std", "description", "value_file", "purpose")


def _annotations(graph: GraphSpec, wrapped: set[str]) -> dict[str, dict]:
    ann = {}
    for t in graph.inputs + graph.outputs:
        a = {k: getattr(t, k) for k in _ANNOTATED if getattr(t, k) is not None}
        if t.name in wrapped:  # the graph now takes and gives RGB grey levels: its order and mean/std are inside
            a = {k: v for k, v in a.items() if k not in ("mean", "std")}
            a.update(layout="NHWC", range=[0, 255], color_order="RGB",
                     description=(t.description + "; " if t.description else "") + "uint8 N×H×W×3 RGB; scaling, "
                                 "layout, channel order, padding and clamping inside the graph (--io uint8-nhwc)")
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


def _check(src, out, precision: str, io: str, calibration_method: str | None, calibration=()):
    """(the parent bundle, the checked --out), after the one-line refusals of options, outputs and parents convert
    cannot start from."""
    from ..core.publish import check_bundle_output

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
    return parent, out


class _Converted:
    """What converting the graphs found out, for the goldens, tolerances and lineage of the new bundle."""

    def __init__(self):
        self.passes: dict[str, list[str]] = {}
        self.fp16_ops: dict[str, list[str]] = {}
        self.used_method: str | None = None
        self.image_outputs: dict[str, float] = {}
        self.uint8_outputs: set[str] = set()
        self.fp32_outputs: set[str] = set()
        self.wrapped_in: dict[str, dict] = {}


def _convert_graphs(parent, w, options, images, log) -> _Converted:
    """Run the conversion passes (passes.py) on every graph of `parent` and add the results to writer `w`."""
    import onnx

    from ...runtime.backends import open_session, plugin_roles
    from .passes import GraphJob, run_passes

    m = parent.manifest
    done = _Converted()
    stats = []  # the runner of the interface's calibration helper graph (WCT: encode_style), opened once if asked

    def stats_runner():
        if not stats:
            stats.append(open_session(parent, interface_spec(m.model.interface).calibration_helper_role, "ort-cpu"))
        return stats[0]

    # tiling graphs (export/tiling/) are derived from the main graph and share its weights; they are not
    # converted (`styleforge tiling add NEW.sfbundle` derives them again from the converted graph)
    tiling_roles = {r for t in m.tiling for r in (t.stats_role, t.tiled_role, t.probe_role)}
    try:
        for g in m.graphs:
            if g.role in tiling_roles:
                done.passes[g.role] = ["left out (tiling graph: `styleforge tiling add` derives it from the converted graph)"]
                continue
            ins, outs = image_tensors(g)
            done.image_outputs.update({k: (io.hi - io.lo) / 255.0 for k, io in outs.items()})
            if g.role in plugin_roles(m):
                w.add_graph(g.role, parent.file(g.file).read_bytes(), annotations=_annotations(g, set()), file=g.file)
                done.passes[g.role] = ["copied unchanged (TensorRT plugin graph)"]
                continue
            job = GraphJob(parent, g, options, images=images, ins=ins, outs=outs, stats=stats_runner, log=log)
            model, done.passes[g.role] = run_passes(onnx.load(str(parent.file(g.file))), job)  # with external weights
            done.fp16_ops.update({g.role: job.facts["fp16_ops"]} if "fp16_ops" in job.facts else {})
            done.used_method = job.facts.get("calibration_method", done.used_method)
            done.fp32_outputs |= set(job.facts.get("fp32_outputs", ()))
            wrapped = job.facts.get("wrapped", set())
            if wrapped:
                done.wrapped_in[g.role] = ins
                done.uint8_outputs |= set(outs)
            w.add_graph(g.role, model.SerializeToString(), annotations=_annotations(g, wrapped), file=g.file)
            for t in g.inputs:
                if t.value_file:
                    w.add_file(t.value_file, parent.file(t.value_file).read_bytes())
    finally:
        for s in stats:
            s.deactivate()
    return done


def _add_goldens(parent, w, precision: str, done: _Converted, policy) -> None:
    """The parent's golden cases (fp32 PyTorch references) for the new bundle, in uint8 where its graphs are."""
    m = parent.manifest
    tiling_roles = {r for t in m.tiling for r in (t.stats_role, t.tiled_role, t.probe_role)}
    for case in m.golden:
        if case.graph in tiling_roles:
            continue
        prec = policy.profile(precision)
        prec_image = next((prec.per_output[o] for o in case.outputs if o in prec.per_output), prec.default) \
            if precision != "fp32" else None
        inputs, outputs = parent.golden_arrays(case)
        if case.graph in done.wrapped_in:
            g = parent.graph(case.graph)
            inputs, outputs = _uint8_golden(parent, case, inputs, outputs, done.wrapped_in[case.graph], image_tensors(g)[1])
        tol = case.tolerance
        if tol is not None:  # a case's own (looser) limit still has to admit what the conversion adds
            tol = loosest(tol, prec_image) if prec_image is not None else tol
            tol = with_rounding(tol) if set(case.outputs) & done.uint8_outputs and precision == "fp32" else tol
        w.add_golden(case.name, case.graph, inputs, outputs, case.description, reference=case.reference, tolerance=tol)


def _size_constraints(m, uint8: bool) -> SizeConstraints:
    sc = copy.deepcopy(m.size_constraints)
    multiple = int(sc.multiple_of)
    if uint8 and multiple > 1:
        sc = SizeConstraints(multiple_of=1, min_side=max(sc.min_side, multiple), fixed_size=sc.fixed_size, padding="in-graph",
                             scale=sc.scale,
                             note=f"the graph reflect-pads H and W to a multiple of {multiple} itself and crops back")
    return sc


def convert_bundle(src, out, *, precision: str = "fp32", calibration=(), io: str = "float-nchw",
                   calibration_size: int = 512, calibration_method: str | None = None, validate: bool = True,
                   log=None) -> tuple[Path, dict | None]:
    """Write the `precision` / `io` variant of bundle `src` to `out`; returns (out, validation report or None)."""
    from ..core.bundle_writer import BundleWriter
    from ..core.publish import publish_bundle
    from .calibration import load_calibration
    from .fp16 import FP32_OPS
    from .lineage import conversion_lineage
    from .passes import ConvertOptions
    from .profiles import converted_policy

    log = log or (lambda msg: None)
    parent, out = _check(src, out, precision, io, calibration_method, calibration)
    m = parent.manifest
    interface = m.model.interface
    images, records = load_calibration(list(calibration), calibration_size) if calibration else ([], [])
    if precision == "int8" and interface_spec(interface).calibration_needs_images and not images:
        raise StyleForgeError("--precision int8 needs calibration images: --calibration IMAGE|FOLDER|sample:NAME "
                              "(several photos like the ones it will see)")
    w = BundleWriter(name=out.name.removesuffix(".sfbundle") or m.model.name, method=m.model.method, family=m.model.family,
                     interface=interface, config=m.model.config, loss_network=m.loss_network, precision=precision,
                     opset=m.opset, step=m.model.step, exporter=m.exporter)
    done = _convert_graphs(parent, w, ConvertOptions(precision, io, calibration_method), images, log)
    policy = converted_policy(m.tolerances, interface, precision, done.image_outputs, done.uint8_outputs,
                              done.fp32_outputs)
    _add_goldens(parent, w, precision, done, policy)
    w.manifest.tolerances = policy
    w.manifest.size_constraints = _size_constraints(m, io == "uint8-nhwc")
    options = {"precision": precision, "io": io}
    if precision == "fp16":
        options["fp32_ops"] = list(FP32_OPS)
        options["fp16_ops"] = done.fp16_ops  # per graph, the op types computing in fp16 (validation's fallback report)
    if records:
        options["calibration_size"] = calibration_size
    if done.used_method:
        options["calibration_method"] = done.used_method
    w.set(source_checkpoint=m.source_checkpoint, training=dict(m.training),
          lineage=conversion_lineage(parent, precision, io, options, done.passes, records))
    out, report = publish_bundle(w.write, out, inputs=[src, *calibration], validate=validate)  # staged, then validated
    log(f"wrote {out}")
    return out, report
