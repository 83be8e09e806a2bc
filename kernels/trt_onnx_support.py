"""TensorRT's ONNX operator support (the ONNX parser of TensorRT 10.x, onnx-tensorrt docs/operators.md),
shipped as data, and a static check of a graph against it, so unsupported operators fail loudly at
export/build time rather than deep inside the parser on a user's GPU machine.

Only the default ONNX domain ("" / "ai.onnx") is listed. Custom-domain nodes are accepted only when
they are a plugin this package provides (see trt_plugin.py). No onnx/tensorrt import at module level.
"""
from __future__ import annotations

#: Source of the list (kept with the data so it can be re-checked when TensorRT moves).
SOURCE = "onnx-tensorrt (TensorRT 10.x) docs/operators.md, supported operators, default domain"

#: Operators the TensorRT 10 ONNX parser imports (opsets 9–20 in the 10.0 list; 9–24 in 10.15's). Restrictions on
#: data types or attributes (e.g. Resize modes, Pad modes) are not modelled here; the builder reports those.
#: Operators marked unsupported (N) in both the 10.0 and the 10.15 docs/operators.md are not listed (they
#: were, by mistake, until the GPU-path review); 10.15 adds Attention, RMSNormalization, RotaryEmbedding,
#: TensorScatter and supports BlackmanWindow, HammingWindow, HannWindow, STFT (N in 10.0): left as they were
#: (the window ops and STFT listed, the new ones not), since which 10.x is installed is not known here.
TRT_ONNX_OPS = frozenset("""
Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization BlackmanWindow Cast
CastLike Ceil Celu Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DeformConv DepthToSpace
DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor Gather GatherElements GatherND
Gelu Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual GridSample GroupNormalization GRU
HammingWindow HannWindow HardSigmoid HardSwish Hardmax Identity If ImageScaler InstanceNormalization IsInf IsNaN
LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax Loop LpNormalization LpPool LRN LSTM MatMul Max
MaxPool Mean MeanVarianceNormalization Min Mish Mod Mul Neg NonMaxSuppression NonZero Not OneHot Or Pad
ParametricSoftplus Pow PRelu QuantizeLinear RandomNormal RandomNormalLike RandomUniform RandomUniformLike Range
Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum
ReduceSumSquare Relu Reshape Resize ReverseSequence RNN RoiAlign Round ScaledTanh Scan Scatter ScatterElements
ScatterND Selu Shape Shrink Sigmoid Sign Sin Sinh Size Slice Softmax Softplus Softsign SpaceToDepth Split Sqrt
Squeeze STFT Sub Sum Tan Tanh ThresholdedRelu Tile TopK Transpose Trilu Unsqueeze Upsample Where Xor
""".split())

#: Default-domain operators known to be rejected by the TensorRT 10 parser (marked N in docs/operators.md of 10.0
#: and 10.15; for clearer messages).
TRT_ONNX_UNSUPPORTED = frozenset("""
AffineGrid Bernoulli BitShift BitwiseAnd BitwiseNot BitwiseOr BitwiseXor CenterCropPad Col2Im Compress
ConcatFromSequence ConvInteger DFT Det DynamicQuantizeLinear GatherBlockQuantized ImageDecoder LabelEncoder
MatMulInteger MaxRoiPool MaxUnpool MelWeightMatrix Multinomial NegativeLogLikelihoodLoss Optional
OptionalGetElement OptionalHasElement QLinearConv QLinearMatMul RegexFullMatch SequenceAt SequenceConstruct
SequenceEmpty SequenceErase SequenceInsert SequenceLength SequenceMap SoftmaxCrossEntropyLoss SplitToSequence
StringConcat StringNormalizer StringSplit TfIdfVectorizer Unique
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
