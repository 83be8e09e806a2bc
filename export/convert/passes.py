"""``convert`` as a list of passes over one graph: slim, the StyleForge folds, fp16, int8 (equalise, s2d, float
bypass, uint8 data movement) and the uint8 I/O wrapper (:data:`PASSES`, in order).

Each pass says whether it applies to a graph (:meth:`Pass.applies`, from the conversion's options and the graph's
interface and role) and turns a model into (new model, notes); the notes of the passes that ran are the graph's
lineage (``lineage.conversion.passes[role]``). What a pass learns that the bundle needs later (the fp16 op types,
the calibration method used, outputs kept fp32, wrapped image tensors) goes into :class:`GraphJob`'s ``facts``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import onnx

from ...runtime.interfaces import interface_spec

@dataclass
class ConvertOptions:
    """What the user asked for (``styleforge convert`` flags), checked by api.py."""

    precision: str = "fp32"
    io: str = "float-nchw"
    calibration_method: str | None = None


@dataclass
class GraphJob:
    """One graph being converted: the parent bundle, its manifest graph, the options and what passes report back."""

    parent: object                       # runtime.bundle.Bundle
    graph: object                        # runtime.manifest.GraphSpec
    options: ConvertOptions
    images: list = field(default_factory=list)   # calibration images (H×W×3 uint8)
    ins: dict = field(default_factory=dict)      # image inputs {name: ImageIO}
    outs: dict = field(default_factory=dict)     # image outputs {name: ImageIO}
    stats: object = None                 # callable () -> runner of the parent's encode_style (WCT calibration)
    log: object = None
    facts: dict = field(default_factory=dict)

    @property
    def spec(self):
        """The interface spec of the parent bundle (runtime/interfaces.py): roles int8 quantises, calibration."""
        return interface_spec(self.parent.manifest.model.interface)

    @property
    def interface(self) -> str:
        return self.parent.manifest.model.interface

    @property
    def role(self) -> str:
        return self.graph.role

    @property
    def multiple(self) -> int:
        return int(self.parent.manifest.size_constraints.multiple_of)

    def quantised(self) -> bool:
        """Whether int8 quantises this graph (the interface's roles)."""
        return self.spec.quantises(self.role)


class Pass:
    """One step of a conversion: ``applies(job)`` and ``run(model, job) -> (model, notes)``."""

    name = "pass"

    def applies(self, job: GraphJob) -> bool:
        return True

    def run(self, model: onnx.ModelProto, job: GraphJob) -> tuple[onnx.ModelProto, list[str]]:
        raise NotImplementedError


class Slim(Pass):
    """onnxslim: constant folding, dead nodes, common sub-expressions, its fusions (cleanup.py)."""

    name = "slim"

    def run(self, model, job):
        from .cleanup import slim

        return slim(model), ["onnxslim"]


class Folds(Pass):
    """The StyleForge folds (one-style instance-norm affine, input scale into the first conv, nearest-upsample + conv
    into a transposed conv), checked (cleanup.py)."""

    name = "folds"

    def run(self, model, job):
        from .cleanup import folds

        # int8 graphs keep nearest-upsample + conv: ONNX Runtime runs a QDQ ConvTranspose slower (subpixel.py)
        return folds(model, upsample=not (job.options.precision == "int8" and job.quantised()))


class Fp16(Pass):
    """fp16 weights and activations with fp32 norms and linear algebra, graph I/O fp32 (fp16.py)."""

    name = "fp16"

    def applies(self, job):
        return job.options.precision == "fp16"

    def run(self, model, job):
        from .fp16 import FP32_OPS, fp16_op_types, to_fp16

        model = to_fp16(model)
        job.facts["fp16_ops"] = fp16_op_types(model)
        kept = ", ".join(o for o in FP32_OPS if o.startswith(("Instance", "Reduce", "MatMul")))
        return model, [f"fp16 (explicit Casts; fp32: {kept}, …; graph I/O fp32)"]


class Int8(Pass):
    """Static QDQ int8 with the interface's recipe: s2d and equalisation first, then quantisation with float bypass
    and uint8 data movement (recipes.py, int8.py)."""

    name = "int8"

    def applies(self, job):
        return job.options.precision == "int8" and job.quantised()

    def run(self, model, job):
        from .calibration import calibration_feeds
        from .graph import ensure_node_names
        from .int8 import quantize
        from .recipes import prepare_int8

        stats = job.stats() if job.spec.calibration_helper_role else None
        feeds = calibration_feeds(job.parent, job.role, job.images, stats)
        if job.log:
            job.log(f"{job.role}: int8 ({len(feeds)} calibration inputs)")
        model, recipe, notes = prepare_int8(ensure_node_names(model), job.interface, job.role, feeds, job.multiple)
        if job.options.calibration_method:
            recipe.method = job.options.calibration_method
        job.facts["calibration_method"] = recipe.method
        return quantize(model, feeds, recipe), notes + [recipe.describe()]


class KeptFloat(Pass):
    """int8 of a graph the interface does not quantise: unchanged, its outputs keep their fp32 limits."""

    name = "kept-fp32"

    def applies(self, job):
        return job.options.precision == "int8" and not job.quantised()

    def run(self, model, job):
        job.facts["fp32_outputs"] = [t.name for t in job.graph.outputs]
        return model, [f"kept fp32 ({job.spec.int8_kept_note})"]


class Uint8IO(Pass):
    """uint8 N×H×W×3 image I/O inside the graph: padding, channel order, layout, scaling or mean/std, the output's
    crop (× the graph's scale) and clamping, as the runtime does them (io_uint8.py)."""

    name = "uint8-io"

    def applies(self, job):
        return job.options.io == "uint8-nhwc" and bool(job.ins or job.outs)

    def run(self, model, job):
        from .io_uint8 import wrap_uint8_nhwc

        m = job.multiple if job.ins else 1
        k = int(job.parent.manifest.size_constraints.scale) if job.ins else 1
        model = wrap_uint8_nhwc(model, list(job.ins.values()), list(job.outs.values()), multiple_of=m, scale=k)
        job.facts["wrapped"] = set(job.ins) | set(job.outs)
        ios = list(job.ins.values()) + list(job.outs.values())
        extra = [what for what, on in (("BGR ↔ RGB", any(io.bgr for io in ios)),
                                       ("mean/std", any(io.mean is not None for io in ios)),
                                       (f"output ×{k}", k != 1)) if on]
        pad = (f", padded to ×{m} in graph (reflect, edge where a side is shorter than its pad)" if m > 1 else "")
        return model, [f"uint8 NHWC I/O ({', '.join(list(job.ins) + list(job.outs))}){pad}"
                       + (f"; in graph: {', '.join(extra)}" if extra else "")]


#: every conversion pass, in the order they run
PASSES: tuple[Pass, ...] = (Slim(), Folds(), Fp16(), Int8(), KeptFloat(), Uint8IO())


def run_passes(model: onnx.ModelProto, job: GraphJob, passes=PASSES) -> tuple[onnx.ModelProto, list[str]]:
    """Run the passes that apply to `job` in order; returns (model, lineage notes)."""
    notes: list[str] = []
    for p in passes:
        if not p.applies(job):
            continue
        if job.log and p.name in ("slim", "fp16"):
            job.log(f"{job.role}: {'clean-up' if p.name == 'slim' else p.name}")
        model, more = p.run(model, job)
        notes += more
    return model, notes
