"""The template interface (runtime/families/template.py): a new interface is one module. A hand-made ONNX graph
(onnx.helper, no torch) in a bundle of interface ``template`` loads, runs, is served and is benched with no other
file edited."""
from __future__ import annotations

import io

import numpy as np
import pytest

pytestmark = pytest.mark.runtime
pytest.importorskip("onnx")


def invert_graph() -> bytes:
    """ONNX graph: image[N,3,H,W] float32 on [0, 255] → transformed = 255 - image."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    y = helper.make_tensor_value_info("transformed", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    nodes = [helper.make_node("Sub", ["k", "image"], ["transformed"])]
    g = helper.make_graph(nodes, "invert", [x], [y], [helper.make_tensor("k", TensorProto.FLOAT, [], [255.0])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()


@pytest.fixture()
def template_bundle(tmp_path):
    from styleforge.export.core.bundle_writer import BundleWriter
    from styleforge.runtime.families.template import TemplateConfig

    w = BundleWriter(name="invert", method="hand-made", family="graph", interface="template",
                     config=TemplateConfig(made_by="onnx.helper"))
    img = {"layout": "NCHW", "range": [0, 255], "color_order": "RGB"}
    data = invert_graph()
    w.add_graph("transform", data, annotations={"image": img, "transformed": img})
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 12, 16)).astype(np.float32)
    w.add_golden("12x16", "transform", {"image": x}, {"transformed": 255 - x})
    w.set_size_constraints(multiple_of=4, min_side=4, padding="reflect")
    return w.write(tmp_path / "invert.sfbundle")


def test_load_runs_the_template_interface(template_bundle):
    from styleforge.runtime import load
    from styleforge.runtime.validation import validate_bundle

    model = load(template_bundle, backend="ort-cpu")
    assert model.interface == "template" and type(model).__name__ == "TemplateModel"
    img = np.random.default_rng(1).integers(0, 256, (10, 13, 3), dtype=np.uint8)  # not a multiple of 4: padded
    out = model(img)
    assert out.shape == img.shape and np.array_equal(out, 255 - img)
    assert validate_bundle(str(template_bundle), write_report=False)["passed"]


def test_bench_times_the_template_interface(template_bundle):
    from styleforge.runtime.latency import benchmark

    report = benchmark([template_bundle], sizes="16", runs=1, warmup=0, with_torch=False)
    rows = report["rows"]
    assert rows and all(r.get("error") is None for r in rows), rows


def test_serve_answers_on_the_spec_endpoint(template_bundle):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient
    from PIL import Image

    from styleforge.runtime.serve.app import create_app
    from styleforge.runtime.serve.config import ServeConfig

    img = np.random.default_rng(2).integers(0, 256, (8, 12, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    cfg = ServeConfig(backend="ort-cpu", warmup_size=8, allowed_hosts=("testserver",))  # TestClient's Host header
    with TestClient(create_app({"invert": str(template_bundle)}, cfg)) as c:
        info = c.get("/v1/models").json()["models"][0]
        assert info["interface"] == "template" and info["endpoint"] == "/v1/models/invert/transform"
        r = c.post("/v1/models/invert/transform", content=buf.getvalue(), headers={"Content-Type": "image/png"})
        assert r.status_code == 200, r.text
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(r.content))), 255 - img)
        wrong = c.post("/v1/models/invert/stylize", content=buf.getvalue(), headers={"Content-Type": "image/png"})
        assert wrong.status_code == 404 and "/transform" in wrong.json()["error"]
