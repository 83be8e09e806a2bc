"""TensorRT's ONNX operator support (the ONNX parser of TensorRT 10.x, onnx-tensorrt docs/operators.md),
shipped as data, and a static check of a graph against it, so unsupported operators fail loudly at
export/build time rather than deep inside the parser on a user's GPU machine.

Only the default ONNX domain ("" / "ai.onnx") is listed. Custom-domain nodes are accepted only when
they are a plugin this package provides (see trt_plugin.py). No onnx/tensorrt import at module level.
"""
from __future__ import annotations

#: Source of the list (kept with the data so it can be re-checked when TensorRT moves).
SOURCE = "onnx-tensorrt (TensorRT 10.x) docs/operators.md, supported operators, default domain"

#: Operators the TensorRT 10 ONNX parser imports (opsets 9–22). Restrictions on data types or
#: attributes (e.g. Resize modes, Pad modes) are not modelled here; the builder reports those.
TRT_ONNX_OPS = frozenset("""
Abs Acos Acosh Add AffineGrid And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization Bernoulli
BitShift BitwiseAnd BitwiseNot BitwiseOr BitwiseXor BlackmanWindow Cast CastLike Ceil Celu Clip Compress Concat
ConcatFromSequence Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DFT DeformConv DepthToSpace
DequantizeLinear Det Div Dropout DynamicQuantizeLinear Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor Gather
GatherElements GatherND Gelu Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual GridSample
GroupNormalization GRU HammingWindow HannWindow HardSigmoid HardSwish Hardmax Identity If ImageScaler InstanceNormalization
IsInf IsNaN LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax Loop LpNormalization LpPool LRN LSTM MatMul
MatMulInteger Max MaxPool MaxRoiPool MaxUnpool Mean MeanVarianceNormalization MelWeightMatrix Min Mish Mod Mul
Multinomial Neg NonMaxSuppression NonZero Not OneHot Or Pad ParametricSoftplus Pow PRelu QLinearConv QLinearMatMul
QuantizeLinear RandomNormal RandomNormalLike RandomUniform RandomUniformLike Range Reciprocal ReduceL1 ReduceL2
ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize
ReverseSequence RNN RoiAlign Round ScaledTanh Scan Scatter ScatterElements ScatterND Selu Shape Shrink Sigmoid Sign
Sin Sinh Size Slice Softmax SoftmaxCrossEntropyLoss Softplus Softsign SpaceToDepth Split Sqrt Squeeze STFT Sub Sum Tan
Tanh ThresholdedRelu Tile TopK Transpose Trilu Unsqueeze Upsample Where Xor
""".split())

#: Default-domain operators known to be rejected by the TensorRT 10 parser (for clearer messages).
TRT_ONNX_UNSUPPORTED = frozenset("""
CenterCropPad Col2Im ConvInteger GatherBlockQuantized ImageDecoder LabelEncoder
Optional OptionalGetElement OptionalHasElement RegexFullMatch SequenceAt SequenceConstruct SequenceEmpty
SequenceErase SequenceInsert SequenceLength SequenceMap SplitToSequence StringConcat StringNormalizer
StringSplit TfIdfVectorizer Unique
""".split())


def _plugin_ops() -> set[tuple[str, str]]:
    from .trt_plugin import ONNX_DOMAIN, PLUGIN_NAME

    return {(ONNX_DOMAIN, PLUGIN_NAME)}


def graph_ops(model) -> list[tuple[str, str]]:
    """(domain, op_type) of every node, subgraphs (If/Loop/Scan bodies) included. `model`: ModelProto or bytes."""
    import onnx

    if isinstance(model, (bytes, bytearray)):
        model = onnx.load_from_string(bytes(model))
    out = []

    def walk(graph):
        for node in graph.node:
            out.append((node.domain or "", node.op_type))
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)
                for g in attr.graphs:
                    walk(g)

    walk(model.graph)
    return out


def unsupported_ops(model) -> list[str]:
    """Sorted 'domain::op' (or 'op') names in `model` that TensorRT's ONNX parser cannot import."""
    plugins = _plugin_ops()
    bad = set()
    for domain, op in graph_ops(model):
        if domain in ("", "ai.onnx"):
            if op not in TRT_ONNX_OPS:
                bad.add(op)
        elif (domain, op) not in plugins:
            bad.add(f"{domain}::{op}")
    return sorted(bad)


def check_tensorrt_ops(model, what: str = "graph") -> None:
    """Raise StyleForgeError naming every operator of `model` outside TensorRT's ONNX support."""
    bad = unsupported_ops(model)
    if bad:
        from ..runtime.errors import StyleForgeError

        raise StyleForgeError(f"{what}: operator(s) not supported by TensorRT's ONNX parser: {', '.join(bad)} "
                              f"(list: {SOURCE}); re-export without them or add a plugin")
