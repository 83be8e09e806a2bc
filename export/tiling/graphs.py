"""The ONNX rewrites behind tiling (torch-free; onnx + onnxruntime), and the receptive-field probe."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...runtime.manifest import TilingSpec

#: probe sizes tried for the receptive field; a graph that sees farther than half the largest is not tiled
PROBE_SIDES = (128, 256, 512)
SUFFIXES = {"stats": ".stats", "tiled": ".tiled", "probe": ".probe"}


def norm_nodes(model) -> list:
    return [n for n in model.graph.node if n.op_type == "InstanceNormalization"]


def _eps(node) -> float:
    return next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)


def _channels(model) -> dict[str, int | str]:
    """Channel count of every InstanceNormalization input (from shape inference; "C" where unknown)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    dims = {vi.name: vi.type.tensor_type.shape.dim for vi in list(inferred.graph.value_info) + list(inferred.graph.input)}
    out = {}
    for node in norm_nodes(model):
        d = dims.get(node.input[0])
        out[node.input[0]] = d[1].dim_value if d is not None and len(d) > 1 and d[1].HasField("dim_value") else "C"
    return out


def stats_graph(model):
    """`model` + outputs ``in{k}_mean``, ``in{k}_var`` (N×C×1×1; biased variance, as the norm computes it) of the
    input of the k-th InstanceNormalization node."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    channels = _channels(model)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), 17)
    if opset >= 18:  # ReduceMean takes its axes as an input from opset 18 on (the dynamo exporter's default)
        m.graph.initializer.append(numpy_helper.from_array(np.array([2, 3], np.int64), "__sf_axes_23"))

    def reduce_mean(src, dst):
        if opset >= 18:
            return helper.make_node("ReduceMean", [src, "__sf_axes_23"], [dst], keepdims=1)
        return helper.make_node("ReduceMean", [src], [dst], axes=[2, 3], keepdims=1)

    for k, node in enumerate(norm_nodes(m)):
        x = node.input[0]
        mean, diff, sq, var = f"in{k}_mean", f"__sf_in{k}_d", f"__sf_in{k}_sq", f"in{k}_var"
        m.graph.node.extend([reduce_mean(x, mean),
                             helper.make_node("Sub", [x, mean], [diff]),
                             helper.make_node("Mul", [diff, diff], [sq]),
                             reduce_mean(sq, var)])
        for name in (mean, var):
            m.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", channels[x], 1, 1]))
    return m


def tiled_graph(model, *, expose: bool = False):
    """`model` with every ``InstanceNormalization(x, s, b)`` replaced by ``(x − mean_k) / sqrt(var_k + eps)·s + b``,
    the statistics being inputs ``in{k}_mean``/``in{k}_var`` of shape [1 or N, C, 1, 1]. `expose`: also output
    each norm input as ``in{k}_x`` (for accumulating statistics over tiles)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    channels = _channels(model)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    g.initializer.append(numpy_helper.from_array(np.array([0, 2, 3], np.int64), "__sf_axes_023"))
    nodes, k = [], -1
    for node in list(g.node):
        if node.op_type != "InstanceNormalization":
            nodes.append(node)
            continue
        k += 1
        x, scale, bias = node.input
        c, p = channels[x], f"__sf_in{k}_"
        for name in (f"in{k}_mean", f"in{k}_var"):
            g.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["stats_batch", c, 1, 1]))
        g.initializer.append(numpy_helper.from_array(np.array(_eps(node), np.float32), p + "eps"))
        nodes += [helper.make_node("Sub", [x, f"in{k}_mean"], [p + "centred"]),
                  helper.make_node("Add", [f"in{k}_var", p + "eps"], [p + "var_eps"]),
                  helper.make_node("Sqrt", [p + "var_eps"], [p + "std"]),
                  helper.make_node("Div", [p + "centred", p + "std"], [p + "norm"]),
                  helper.make_node("Unsqueeze", [scale, "__sf_axes_023"], [p + "scale4"]),
                  helper.make_node("Unsqueeze", [bias, "__sf_axes_023"], [p + "bias4"]),
                  helper.make_node("Mul", [p + "norm", p + "scale4"], [p + "scaled"]),
                  helper.make_node("Add", [p + "scaled", p + "bias4"], [node.output[0]])]
        if expose:
            nodes.append(helper.make_node("Identity", [x], [f"in{k}_x"]))
            g.output.append(helper.make_tensor_value_info(f"in{k}_x", TensorProto.FLOAT, ["batch", c, f"h{k}", f"w{k}"]))
    del g.node[:]
    g.node.extend(nodes)
    return m


def receptive_radius(model, extra_feeds: dict, image_input: str = "image", align: int = 4) -> int | None:
    """How far (px) one input pixel's influence reaches in the output, with the statistics held fixed (what tiling
    needs): a centre pixel is changed on a probe image and the extent of the output change measured. None when the
    change reaches the probe's border even at the largest probe (the graph sees the whole image)."""
    from ..convert.graph import cpu_session

    stats_s, tiled_s = cpu_session(stats_graph(model)), cpu_session(tiled_graph(model))
    names = [o.name for o in stats_s.get_outputs()]
    for side in PROBE_SIDES:
        side -= side % align
        x = np.random.default_rng(0).uniform(0, 255, (1, 3, side, side)).astype(np.float32)
        stats = dict(zip(names[1:], stats_s.run(names[1:], {image_input: x, **extra_feeds})))
        y0 = tiled_s.run(None, {image_input: x, **extra_feeds, **stats})[0]
        x[:, :, side // 2, side // 2] += 97.0
        y1 = tiled_s.run(None, {image_input: x, **extra_feeds, **stats})[0]
        changed = np.argwhere(np.abs(y1 - y0).max(axis=(0, 1)) > 0)
        if changed.size == 0:
            return 0
        reach = int(np.abs(changed - side // 2).max())
        if reach < side // 2 - 1:
            return reach
    return None


@dataclass
class TilingGraphs:
    spec: TilingSpec
    files: dict[str, bytes]        # file name → bytes: the three graphs and the shared weights


def make_tiling_graphs(onnx_bytes: bytes, role: str, *, align: int, extra_feeds: dict | None = None,
                       image_input: str = "image") -> TilingGraphs | None:
    """The tiling graphs of one graph (None: no instance norm, or a receptive field too large to tile)."""
    import onnx
    from onnx.external_data_helper import convert_model_to_external_data, write_external_data_tensors

    model = onnx.load_from_string(onnx_bytes)
    layers = len(norm_nodes(model))
    if not layers:
        return None
    radius = receptive_radius(model, extra_feeds or {}, image_input, align)
    if radius is None:
        return None
    margin = -(-(radius + 1) // align) * align
    weights = f"{role}.tiling-weights.bin"
    with tempfile.TemporaryDirectory() as tmp:  # the weights once, in one file the three graphs point into
        convert_model_to_external_data(model, all_tensors_to_one_file=True, location=weights, size_threshold=1024)
        write_external_data_tensors(model, tmp)
        data = (Path(tmp) / weights).read_bytes() if (Path(tmp) / weights).exists() else b""
    graphs = {"stats": stats_graph(model), "tiled": tiled_graph(model), "probe": tiled_graph(model, expose=True)}
    files = {f"{role}{SUFFIXES[k]}.onnx": g.SerializeToString() for k, g in graphs.items()}
    if data:
        files[weights] = data
    spec = TilingSpec(role=role, stats_role=role + SUFFIXES["stats"], tiled_role=role + SUFFIXES["tiled"],
                      probe_role=role + SUFFIXES["probe"], margin=margin, align=align, norm_layers=layers,
                      receptive_radius=radius, weights=weights if data else None)
    return TilingGraphs(spec, files)


def add_tiling(writer, role: str, *, extra_feeds: dict | None = None) -> TilingSpec | None:
    """Add the tiling graphs of `role` to a BundleWriter (and record them in the manifest's ``tiling``)."""
    graph = writer.manifest.graphs[[g.role for g in writer.manifest.graphs].index(role)]
    made = make_tiling_graphs(writer.files[graph.file], role, align=writer.manifest.size_constraints.multiple_of,
                              extra_feeds=extra_feeds)
    if made is None:
        return None
    for name, data in made.files.items():
        if name.endswith(".onnx"):
            derived = name.removesuffix(".onnx")
            writer.add_graph(derived, data, file=name, annotations=_annotations(graph))
        else:
            writer.add_file(name, data)
    writer.manifest.tiling.append(made.spec)
    return made.spec


#: what a tiling graph's tensors keep of the original graph's: how image values are laid out, scaled and normalised
_KEPT = ("layout", "range", "color_order", "mean", "std")


def _annotations(graph) -> dict:
    """The original graph's per-tensor annotations for its tiling graphs (same image inputs and outputs)."""
    return {t.name: {k: getattr(t, k) for k in _KEPT if getattr(t, k)} for t in graph.inputs + graph.outputs}
