"""TensorRT side of styleforge.kernels, checked statically (no TensorRT on any machine here): the
WhitenColor plugin's ONNX node naming, the exporter hook, the ONNX support list check of our
graphs, and the engine builder's CLI and shape parsing."""
from __future__ import annotations

import importlib.util

import pytest

from styleforge.kernels import trt_onnx_support as sup
from styleforge.kernels import trt_plugin

from helpers import scale_graph, write_scale_bundle


def _attrs(node):
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def test_plugin_node_naming_follows_tensorrt_rules():
    import onnx

    model = onnx.load_from_string(trt_plugin.make_model(64, alpha=0.5, reg=2e-4, iters=20))
    (node,) = model.graph.node
    # TensorRT's ONNX parser: op_type = plugin name, looked up with the plugin_version / plugin_namespace attributes
    assert node.op_type == "WhitenColor" == trt_plugin.PLUGIN_NAME
    assert node.domain == "styleforge" and trt_plugin.PLUGIN_ID == "styleforge::WhitenColor"
    a = _attrs(node)
    assert a["plugin_namespace"] == b"styleforge" and a["plugin_version"] == b"1"
    assert a["alpha"] == pytest.approx(0.5) and a["reg"] == pytest.approx(2e-4) and a["iters"] == 20
    types = {x.name: x.type for x in node.attribute}
    assert types["alpha"] == onnx.AttributeProto.FLOAT and types["iters"] == onnx.AttributeProto.INT
    assert types["plugin_namespace"] == onnx.AttributeProto.STRING
    # the plugin's own attributes are exactly the register() signature's (besides the lookup keys)
    assert set(a) - {"plugin_namespace", "plugin_version"} == set(trt_plugin.ATTRIBUTES)
    # the custom domain is declared; the name is no standard ONNX operator (the parser would prefer that)
    assert {(o.domain, o.version) for o in model.opset_import} >= {("styleforge", 1)}
    from onnx import defs

    assert not defs.has(node.op_type)
    assert list(node.input) == ["fc", "fs"] and len(node.output) == 1
    assert sup.unsupported_ops(model) == []


def test_support_list_flags_unsupported_and_foreign_custom_ops():
    import onnx
    from onnx import TensorProto, helper

    from styleforge.runtime.errors import StyleForgeError

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    nodes = [helper.make_node("Unique", ["x"], ["u"]), helper.make_node("Relu", ["u"], ["r"]),
             helper.make_node("Foo", ["r"], ["y"], domain="acme")]
    g = helper.make_graph(nodes, "g", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("acme", 1)])
    assert sup.unsupported_ops(m) == ["Unique", "acme::Foo"]
    with pytest.raises(StyleForgeError, match="Unique, acme::Foo"):
        sup.check_tensorrt_ops(m.SerializeToString(), "m.onnx")
    assert sup.unsupported_ops(scale_graph()) == []
    assert "Relu" in sup.TRT_ONNX_OPS and not (sup.TRT_ONNX_OPS & sup.TRT_ONNX_UNSUPPORTED)


def test_our_graphs_use_only_tensorrt_ops_and_plugin_emitter():
    """The exported stylizer and WCT graphs (NS and plugin form) pass the static TensorRT check."""
    import onnx
    import torch

    from styleforge.export.core.onnx_export import export_onnx
    from styleforge.train.stylizer.transformer_net import TransformerNet
    from styleforge.train.wct.models import WCTDecoder, WCTEncoder
    from styleforge.train.wct.pipeline import WCTPipeline

    net = TransformerNet(width_mult=0.125, num_res_blocks=1)
    g = export_onnx(net, (torch.rand(1, 3, 16, 16) * 255,), input_names=["image"], output_names=["stylized"],
                    dynamic_axes={"image": {0: "b", 2: "h", 3: "w"}})
    assert sup.unsupported_ops(g) == []
    pipe = WCTPipeline(WCTEncoder(max_level=1, warn=False), {1: WCTDecoder(1, width_mult=0.25)}, mode="ns", iters=2).eval()
    from styleforge.export.wct.exporter import _graph_modules

    _, _, pair = _graph_modules(pipe)
    ns = export_onnx(pair, (torch.rand(1, 3, 16, 16) * 255, torch.rand(1, 3, 16, 16) * 255, torch.ones(1)),
                     input_names=["content", "style", "alpha"], output_names=["image"],
                     dynamic_axes={"content": {2: "h", 3: "w"}})
    assert sup.unsupported_ops(ns) == []
    graphs = trt_plugin.emit_wct_node(pipe, levels=[1], opset=17)
    m = onnx.load_from_string(graphs["stylize_pair"])
    plug = [n for n in m.graph.node if n.domain == trt_plugin.ONNX_DOMAIN]
    assert [n.op_type for n in plug] == ["WhitenColor"] and _attrs(plug[0])["plugin_namespace"] == b"styleforge"
    assert sup.unsupported_ops(m) == []
    assert [i.name for i in m.graph.input] == ["content", "style", "alpha"]


def test_shapes_and_default_profile():
    from styleforge.export.engines.tensorrt_build import parse_shapes
    from styleforge.runtime.backends.profiles import default_bucket
    from styleforge.runtime.errors import StyleForgeError
    from styleforge.runtime.manifest import SizeConstraints

    s = parse_shapes(["content:1x3x64x64:1x3x512x512:4x3x1024x1024", "alpha:2"])
    assert s["content"] == ((1, 3, 64, 64), (1, 3, 512, 512), (4, 3, 1024, 1024)) and s["alpha"] == ((2,),) * 3
    for bad in ("content:1x3:1x3x4x4:1x3x4x4", "content:4x3x8x8:1x3x8x8:4x3x8x8", "content", "x:ax1"):
        with pytest.raises(StyleForgeError):
            parse_shapes([bad])
    from styleforge.runtime.manifest import TensorSpec

    p = default_bucket([TensorSpec(name="image", dtype="float32", shape=["batch", 3, "height", "width"]),
                        TensorSpec(name="alpha", dtype="float32", shape=[3])], SizeConstraints(multiple_of=16))
    assert p["image"] == ((1, 3, 16, 16), (1, 3, 512, 512), (4, 3, 1024, 1024)) and p["alpha"] == ((3,),) * 3


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_engine_build_cli_without_tensorrt(tmp_path, cli):
    b = write_scale_bundle(tmp_path / "s.sfbundle")
    p = cli("engine", "build", b)
    assert p.returncode == 2 and "TensorRT" in p.stderr and "not installed" in p.stderr
    p = cli("engine", "build", b, "--check-only")
    assert p.returncode == 0 and "support list" in p.stdout and "bucket 0  image: min 1x3x1x1" in p.stdout
    p = cli("engine", "build", b, "--role", "nope")
    assert p.returncode == 2 and "nope" in p.stderr
