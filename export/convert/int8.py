"""Static int8 quantisation of a cleaned fp32 graph for ONNX Runtime CPU, with a keep-in-float policy.

Format: QDQ (QuantizeLinear/DequantizeLinear pairs around each quantised op), uint8 activations, int8 per-channel
symmetric weights (U8S8) on 7 bits (|q| <= 64, see below), percentile calibration. Why: ONNX Runtime fuses
DQ → Conv → Q into QLinearConv, which runs on MLAS's u8×s8 kernels (the VNNI / AVX2 path on x86 CPUs; s8
activations take a slower path there); per-channel weights cost nothing at run time and are the accurate choice
for convs whose filters differ in scale; QDQ keeps the graph portable (TensorRT reads explicit-quantisation QDQ graphs; the QOperator format is
ORT-only) and lets ORT itself choose what to fuse. Calibration: the 99.999th percentile of each activation's
histogram. Measured with this module's recipes at 512², PSNR vs fp32 per photo (astronaut, coffee, chelsea,
rocket): demo stylizer minmax 33.8 dB on the worst photo, entropy the same, percentile 35.9 (44–46 on the others);
imported Johnson-style graph minmax 30.4–30.6, percentile 32.3–32.6 (those with 8-bit weights, on a VNNI machine).

Why 7-bit weights (``reduce_range``): on x86 CPUs with AVX2 but no VNNI (e.g. this project's AMD EPYC CI machine),
MLAS's u8×s8 kernel adds pairs of uint8×int8 products in int16 (vpmaddubsw), which saturates once a pair passes
32767 (255·127·2 = 64770 can); VNNI machines accumulate in int32 and do not. The same 8-bit-weight graph gave
the two-level WCT test bundle 43.2 dB vs fp32 with ONNX Runtime's fusions off (the QDQ arithmetic) and 28.5 dB
(max error 79 grey levels) with QLinearConv on the EPYC; weights limited to |q| ≤ 64 keep every pair under
255·64·2 = 32640, so the fused result equals the QDQ arithmetic on every CPU: 42.5 dB there, fused or not
(tiny stylizer: 39.8 → 39.7 dB). A bundle is built once and run on any machine, so this is not a per-CPU choice.

What stays in floating point comes from the family recipe (recipes.py) as node names and op types; on top of
that two post-passes make the float islands cheap and exact:

* :func:`float_bypass`: ONNX Runtime's quantiser gives a tensor ONE Q→DQ pair and rewires *every* consumer to the
  DQ output, so a residual Add reads a re-quantised copy of a tensor that exists in fp32 anyway. Consumers that
  run in float get the original float tensor back when a float op produced it (a QLinearConv's float output
  never exists at run time, so those pairs stay). Free at run time; one quantisation less per residual block.
* :func:`hoist_quantize`: per-tensor Q moved above data-movement ops (Q(move(x)) = move(Q(x))) and DQ→Q pairs
  with equal parameters cancelled, so reflect Pads, SpaceToDepth and nearest Resize run on uint8 (ONNX Runtime
  does not fuse DQ → Pad(reflect) → Q itself: measured 26 ms of float Pads at 512² on the demo stylizer).
"""
from __future__ import annotations

import contextlib
import copy
import io
import os
import tempfile
from dataclasses import dataclass, field

import numpy as np
import onnx

from ...runtime.errors import StyleForgeError
from .graph import Graph, ensure_node_names, prune_unused


@dataclass
class Int8Recipe:
    """How to quantise one graph: which op types may be quantised and which nodes stay in float."""

    op_types: tuple[str, ...] = ("Conv", "Pad", "Resize", "Relu", "MaxPool", "Concat", "Transpose", "Reshape")
    exclude: tuple[str, ...] = ()                 # node names kept in float
    per_channel: bool = True
    method: str = "percentile"                    # percentile (99.999) | minmax | entropy
    percentile: float = 99.999
    float_bypass: bool = True
    hoist: bool = True
    input_exact: tuple[str, ...] = ()             # graph inputs that hold integers 0..255: scale 1, zero point 0
    reduce_range: bool = True                     # 7-bit weights: no int16 saturation on AVX2 without VNNI (above)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (f"QDQ U8S8{' (7-bit weights)' if self.reduce_range else ''} "
                f"{'per-channel' if self.per_channel else 'per-tensor'} {self.method}; ops "
                f"{'+'.join(self.op_types)}; {len(self.exclude)} node(s) kept float"
                + ("; float bypass" if self.float_bypass else "") + ("; uint8 data movement" if self.hoist else ""))


class _Reader:
    """onnxruntime.quantization.CalibrationDataReader over a list of feed dicts."""

    def __init__(self, feeds: list[dict]):
        self.feeds = list(feeds)
        self.it = iter(self.feeds)

    def get_next(self):
        return next(self.it, None)

    def rewind(self):
        self.it = iter(self.feeds)


def quantize(model: onnx.ModelProto, feeds: list[dict], recipe: Int8Recipe,
             calibration_cache: str | None = None) -> onnx.ModelProto:
    """Static QDQ quantisation of `model` calibrated on `feeds` (one dict of graph inputs per calibration sample).

    `calibration_cache`: a file for ONNX Runtime's calibration cache (its ``calibration_cache_path``): written by the
    first call, read by the next ones instead of calibrating again — the ranges cover every tensor of the recipe's op
    types whatever `exclude` says, so repeated quantisations of one model with different excludes share it. An
    ONNX Runtime without that parameter (before 1.32) calibrates every time: same result, slower."""
    import logging

    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if not feeds:
        raise StyleForgeError("int8 needs calibration inputs (--calibration IMAGE|FOLDER|sample:NAME …)")
    model = ensure_node_names(copy.deepcopy(model))
    method = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
              "percentile": CalibrationMethod.Percentile}[recipe.method]
    # ForceQuantizeNoInputCheck: Resize/MaxPool/Transpose are otherwise quantised only when their input already is;
    # behind a float InstanceNorm(+Relu) it is not, and the stylizer's upsampling ran in float at full size.
    # CalibMaxIntermediateOutputs is NOT set: in ORT 1.32 MinMaxCalibrater drops the collected outputs when the
    # count is reached (fewer images, or "No data is collected"); MinMax keeps two scalars per tensor anyway.
    extra = {"ActivationSymmetric": False, "WeightSymmetric": True, "ForceQuantizeNoInputCheck": True}
    if recipe.method == "percentile":
        extra["CalibPercentile"] = recipe.percentile
    if recipe.input_exact:
        extra["TensorQuantOverrides"] = {n: [{"scale": np.array(1.0, np.float32), "zero_point": np.array(0, np.uint8)}]
                                         for n in recipe.input_exact}
    names = {n.name for n in model.graph.node}
    exclude = [n for n in recipe.exclude if n in names]
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.onnx"), os.path.join(tmp, "out.onnx")
        onnx.save(model, src)
        level = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)  # its "consider pre-processing" warnings: we clean up ourselves
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # the histogram calibrators print their progress
                quantize_static(src, dst, _Reader(feeds), quant_format=QuantFormat.QDQ,
                                op_types_to_quantize=list(recipe.op_types), per_channel=recipe.per_channel,
                                reduce_range=recipe.reduce_range, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                                nodes_to_exclude=exclude, calibrate_method=method, extra_options=extra,
                                **_cache_option(quantize_static, calibration_cache))
        finally:
            logging.getLogger().setLevel(level)
        out = onnx.load(dst)
    if recipe.float_bypass:
        out, _ = float_bypass(out)
    if recipe.hoist:
        out, _ = hoist_quantize(out)
    onnx.checker.check_model(out)
    return out


def _cache_option(quantize_static, path: str | None) -> dict:
    """``calibration_cache_path=path`` where this ONNX Runtime's quantize_static takes it (1.32 does), else nothing."""
    import inspect

    if not path or "calibration_cache_path" not in inspect.signature(quantize_static).parameters:
        return {}
    return {"calibration_cache_path": path}


def float_bypass(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """Consumers of an activation DQ that run in float (no Q after them) read the Q's float input instead."""
    g = Graph(model)
    count = 0
    for dq in list(model.graph.node):
        if dq.op_type != "DequantizeLinear":
            continue
        q = g.producer.get(dq.input[0])
        if q is None or q.op_type != "QuantizeLinear":
            continue
        src = q.input[0]
        p = g.producer.get(src)
        if p is not None and any(g.producer.get(i) is not None and g.producer[i].op_type == "DequantizeLinear"
                                 for i in p.input if i):
            continue  # src comes out of a DQ → op → Q group (e.g. QLinearConv): its float form never exists
        for c in list(g.consumers.get(dq.output[0], [])):
            outs = [o for o in c.output if o]
            quantized_after = outs and all(g.consumers.get(o) and all(cc.op_type == "QuantizeLinear" for cc in g.consumers[o])
                                           for o in outs)
            inputs_dq = all(g.const(i) is not None or (g.producer.get(i) is not None and
                                                       g.producer[i].op_type == "DequantizeLinear") for i in c.input if i)
            if quantized_after and inputs_dq:
                continue  # a DQ → op → Q group: ORT runs it in int8
            for k, i in enumerate(c.input):
                if i == dq.output[0]:
                    c.input[k] = src
                    count += 1
        g.reindex()
    return prune_unused(model), count


#: data-movement ops that commute with a per-tensor QuantizeLinear (values are copied, never mixed)
MOVE_OPS = ("Pad", "SpaceToDepth", "DepthToSpace", "Transpose", "Reshape", "Resize", "Slice", "Squeeze", "Unsqueeze",
            "Flatten", "Identity")


def _movable(n) -> bool:
    if n.op_type not in MOVE_OPS:
        return False
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
    if n.op_type == "Pad" and attrs.get("mode", b"constant") == b"constant":
        return False  # the pad value would need requantising
    if n.op_type == "Resize" and attrs.get("mode", b"nearest") != b"nearest":
        return False
    return True


def hoist_quantize(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """Move per-tensor Q above data-movement ops, then cancel DQ → Q pairs with identical parameters."""
    changed = 0
    while True:
        g = Graph(model)
        moved = False
        for q in list(model.graph.node):
            if q.op_type != "QuantizeLinear":
                continue
            m = g.producer.get(q.input[0])
            if m is None or not _movable(m) or g.single_consumer(m.output[0]) is not q:
                continue
            s = g.const(q.input[1])
            if s is None or np.size(s) != 1:
                continue
            qout = q.output[0]
            q.input[0], q.output[0] = m.input[0], qout + "_hoisted"
            m.input[0], m.output[0] = qout + "_hoisted", qout
            nodes = list(model.graph.node)
            nodes.remove(q)
            nodes.insert(nodes.index(m), q)
            del model.graph.node[:]
            model.graph.node.extend(nodes)
            changed += 1
            moved = True
            break
        if not moved:
            break
    g = Graph(model)
    dead = []
    for q in list(model.graph.node):
        if q.op_type != "QuantizeLinear":
            continue
        dq = g.producer.get(q.input[0])
        if dq is None or dq.op_type != "DequantizeLinear" or len(dq.input) != len(q.input):
            continue
        same = all((np.array_equal(g.const(a), g.const(b)) if g.const(a) is not None and g.const(b) is not None else a == b)
                   for a, b in zip(dq.input[1:], q.input[1:]))
        if not same:
            continue
        for c in g.consumers.get(q.output[0], []):
            for k, i in enumerate(c.input):
                if i == q.output[0]:
                    c.input[k] = dq.input[0]
        dead.append(q)
        changed += 1
    if dead:
        g.remove_nodes(dead)
    return prune_unused(model), changed


def conv_names(model: onnx.ModelProto, op_types=("Conv", "ConvTranspose")) -> list[str]:
    """Conv node names in topological (file) order."""
    return [n.name for n in model.graph.node if n.op_type in op_types]


TERMINAL_OPS = ("Sigmoid", "Tanh", "Clip", "Mul", "Div", "Add", "Identity", "Cast", "DepthToSpace", "Slice", "Transpose",
                "Relu", "Min", "Max")


def output_convs(model: onnx.ModelProto) -> list[str]:
    """Conv nodes whose output reaches a graph output through element-wise / layout ops only (the output layer)."""
    g = Graph(model)
    out = []
    for o in model.graph.output:
        name, hops = o.name, 0
        while name in g.producer and hops < 10:
            p = g.producer[name]
            if p.op_type in ("Conv", "ConvTranspose"):
                out.append(p.name)
                break
            if p.op_type not in TERMINAL_OPS:
                break
            name = next((i for i in p.input if i and g.const(i) is None), None)
            hops += 1
            if name is None:
                break
    return out
