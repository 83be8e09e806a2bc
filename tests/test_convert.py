"""convert: every precision on a stylizer and on a WCT bundle, --io uint8-nhwc, a generator and a translator; each
variant validates against the ORIGINAL fp32 PyTorch golden outputs under its precision's profile, and the graph
holds what the precision claims (fp16 weights with fp32 norms, QDQ with float islands, uint8 NHWC I/O). Plus the
typed lineage."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from styleforge.runtime.errors import StyleForgeError  # noqa: E402

CAL = ["sample:astronaut", "sample:coffee", "sample:chelsea", "sample:rocket"]


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def sty(tmp_path_factory):
    from styleforge.export.core.api import export_checkpoint
    from styleforge.train.stylizer.trainer import train_stylizer

    d = tmp_path_factory.mktemp("conv_sty")
    ckpt = train_stylizer(["sample:mosaic"], d / "run", steps=4, size=32, batch=2, width_mult=0.125, progress=False)
    return export_checkpoint(ckpt, d / "sty.sfbundle")


@pytest.fixture(scope="module")
def wct(tmp_path_factory):
    from styleforge.export.core.api import export_checkpoint
    from styleforge.train.wct.trainer import WCTDecoderTrainer

    d = tmp_path_factory.mktemp("conv_wct")
    for level in (1, 2):  # two levels: the cascade, unpooling, a size multiple of 2
        WCTDecoderTrainer(d / "wct" / f"level{level}", level=level, size=32, batch_size=1, width_mult=0.125, steps=2,
                          progress=False).fit()
    return export_checkpoint(d / "wct", d / "wct.sfbundle", golden_sizes="32x32,16x48")


def _convert(src, out, **kw):
    from styleforge.export.convert.api import convert_bundle

    path, report = convert_bundle(src, out, **kw)
    return path, report


def _graph(bundle, role):
    m = json.loads((bundle / "manifest.json").read_text())
    g = next(g for g in m["graphs"] if g["role"] == role)
    return onnx.load(str(bundle / g["file"])), m


def _ops(model):
    return [n.op_type for n in model.graph.node]


def _worst(report, key):
    vals = [o[key] for c in report["cases"] for o in c["outputs"]]
    return max(vals) if key != "psnr" else min(vals)


# --- lineage ---------------------------------------------------------------------------------------

def test_lineage_is_typed_and_optional():
    from styleforge.runtime.manifest import (BundleError, CalibrationImage, Conversion, Lineage, LineageParent,
                                             from_dict, to_dict)

    lin = Lineage(precision="int8", parent=LineageParent(name="demo", manifest_sha256="ab" * 32),
                  conversion=Conversion(tool="styleforge convert", versions={"onnx": "1"}, options={"io": "float-nchw"},
                                        calibration=[CalibrationImage(source="a.png", sha256="cd" * 32)]))
    back = from_dict(Lineage, json.loads(json.dumps(to_dict(lin))), "lineage")
    assert back == lin and back.parent.manifest_sha256 == "ab" * 32 and back.conversion.calibration[0].source == "a.png"
    with pytest.raises(BundleError, match="unknown field lineage.parent.colour"):
        from_dict(Lineage, {**to_dict(lin), "parent": {**to_dict(lin.parent), "colour": 1}}, "lineage")


def test_lineage_defaults_to_none_and_must_match_precision(tmp_path):
    from helpers import write_scale_bundle
    from styleforge.runtime.bundle import open_bundle, update_bundle
    from styleforge.runtime.manifest import Conversion, Lineage

    b = write_scale_bundle(tmp_path / "s.sfbundle")
    assert open_bundle(b).manifest.lineage is None  # exported bundles, and every older bundle, have none
    with pytest.raises(StyleForgeError, match="lineage.precision"):
        update_bundle(b, patch=lambda m: setattr(m, "lineage", Lineage(precision="int8", conversion=Conversion(tool="x"))))
    assert open_bundle(b).manifest.lineage is None  # the refused manifest was never written


# --- stylizer ---------------------------------------------------------------------------------------

def test_fp32_is_the_clean_up_alone(sty, tmp_path):
    out, report = _convert(sty, tmp_path / "fp32.sfbundle")
    assert report["passed"] and report["tolerance_profile"] == "cpu-fp32"  # the parent's tight fp32 limits
    before, parent = _graph(sty, "stylize")
    after, m = _graph(out, "stylize")
    assert len(after.graph.node) < len(before.graph.node)
    assert "Gather" not in _ops(after) and "Div" not in _ops(after)  # one-style affine and /255 folded
    assert m["graphs"][0]["inputs"] == parent["graphs"][0]["inputs"]  # same contract
    lin = m["lineage"]
    assert lin["precision"] == "fp32" and lin["parent"]["name"] == parent["model"]["name"]
    import hashlib

    assert lin["parent"]["manifest_sha256"] == hashlib.sha256((sty / "manifest.json").read_bytes()).hexdigest()
    assert "onnxslim" in lin["conversion"]["versions"] and lin["conversion"]["passes"]["stylize"][0] == "onnxslim"
    # the two nearest ×2 up blocks became transposed convs on the low-resolution tensors (subpixel.py)
    assert "Resize" not in _ops(after) and _ops(after).count("ConvTranspose") == 2
    assert "fold_upsample_conv×2" in lin["conversion"]["passes"]["stylize"]


def test_fp16_keeps_norms_in_fp32_and_says_what_ort_cpu_ran_in_fp32(sty, tmp_path):
    from onnx import TensorProto

    out, report = _convert(sty, tmp_path / "fp16.sfbundle", precision="fp16")
    assert report["passed"] and report["tolerance_profile"] == "fp16"
    g, m = _graph(out, "stylize")
    assert m["precision"] == "fp16" and m["graphs"][0]["inputs"][0]["dtype"] == "float32"  # I/O stays fp32
    w = {i.name: i.data_type for i in g.graph.initializer}
    conv_w = [w[n.input[1]] for n in g.graph.node if n.op_type == "Conv"]
    assert conv_w and all(t == TensorProto.FLOAT16 for t in conv_w)
    norms = [n for n in g.graph.node if n.op_type == "InstanceNormalization"]
    assert norms and all(w[n.input[1]] == TensorProto.FLOAT for n in norms)  # statistics and affine in fp32
    assert all(n.input[0].endswith("__to32") for n in norms)  # an explicit Cast in front of each
    assert "fp16_fallbacks" in report and "Conv" in report["fp16_fallbacks"]["stylize"]  # said plainly
    assert all("no fp16 kernel" in c["note"] for c in report["cases"])
    prof = m["tolerances"]["profiles"]["fp16"]["default"]
    assert _worst(report, "max_abs") <= prof["max_abs"] and _worst(report, "psnr") >= prof["min_psnr"]


def test_int8_quantises_convs_and_keeps_the_float_islands(sty, tmp_path):
    out, report = _convert(sty, tmp_path / "int8.sfbundle", precision="int8", calibration=CAL, calibration_size=64)
    assert report["passed"] and report["tolerance_profile"] == "int8"
    g, m = _graph(out, "stylize")
    ops = _ops(g)
    assert ops.count("QuantizeLinear") > 5 and ops.count("DequantizeLinear") > 5
    assert "InstanceNormalization" in ops and "SpaceToDepth" in ops  # norms float; the thin output conv rewritten
    producers = {o: n for n in g.graph.node for o in n.output}
    convs = [n for n in g.graph.node if n.op_type == "Conv"]
    quantised = [n for n in convs if producers.get(n.input[1]) is not None and producers[n.input[1]].op_type == "DequantizeLinear"]
    assert 0 < len(quantised) < len(convs)
    weights = [onnx.numpy_helper.to_array(i) for i in g.graph.initializer if i.data_type == onnx.TensorProto.INT8]
    assert weights and max(int(np.abs(w.astype(np.int32)).max()) for w in weights) <= 64  # 7-bit: no AVX2 saturation
    first = convs[0]
    assert producers.get(first.input[1]) is None  # the first conv keeps float weights
    lin = m["lineage"]["conversion"]
    assert [c["source"] for c in lin["calibration"]] == CAL and all(len(c["sha256"]) == 64 for c in lin["calibration"])
    assert any(p.startswith("equalize_conv_instancenorm") for p in lin["passes"]["stylize"])
    prof = m["tolerances"]["profiles"]["int8"]["default"]
    assert _worst(report, "psnr") >= prof["min_psnr"] and _worst(report, "mean_abs") <= prof["mean_abs"]
    with pytest.raises(StyleForgeError, match="calibration"):
        _convert(sty, tmp_path / "nocal.sfbundle", precision="int8")
    with pytest.raises(StyleForgeError, match="starts from an fp32 bundle"):
        _convert(out, tmp_path / "again.sfbundle", precision="fp16")


def test_uint8_nhwc_io_is_inside_the_graph(sty, tmp_path):
    """--io uint8-nhwc: the graph takes and returns H×W×3 uint8 of any size (it pads to ×4 and crops itself), equal
    within 1 grey level to the runtime's pipeline on the float bundle."""
    import onnxruntime as ort

    from styleforge.runtime import load
    from styleforge.runtime.latency import bench_image

    out, report = _convert(sty, tmp_path / "u8.sfbundle", io="uint8-nhwc")
    assert report["passed"]
    m = json.loads((out / "manifest.json").read_text())
    spec = m["graphs"][0]["inputs"][0]
    assert spec["dtype"] == "uint8" and spec["layout"] == "NHWC" and spec["shape"][-1] == 3
    assert m["graphs"][0]["outputs"][0]["dtype"] == "uint8" and m["lineage"]["io"] == "uint8-nhwc"
    assert m["size_constraints"]["multiple_of"] == 1 and m["size_constraints"]["padding"] == "in-graph"
    s = ort.InferenceSession(str(out / "stylize.onnx"), providers=["CPUExecutionProvider"])
    img = bench_image(37, 51)
    y = s.run(None, {"image": img[None]})[0]
    assert y.dtype == np.uint8 and y.shape == (1, 37, 51, 3)
    want = load(sty, backend="ort-cpu")(img)
    assert int(np.abs(y[0].astype(int) - want).max()) <= 1
    assert np.array_equal(load(out, backend="ort-cpu")(img), y[0])  # the runtime passes uint8 straight through


def test_tiling_add_on_variants(sty, tmp_path):
    """`tiling add` derives tiling graphs from an fp16 variant (tiled within 1 grey level of untiled, uint8 rounding
    flips), and refuses a uint8-NHWC variant in one line instead of failing inside ONNX Runtime."""
    from styleforge.export.tiling.commands import add_tiling_to_bundle
    from styleforge.runtime import load
    from styleforge.runtime.latency import bench_image

    half, _ = _convert(sty, tmp_path / "h.sfbundle", precision="fp16")
    assert add_tiling_to_bundle(half) == ["stylize"]
    model = load(half, backend="ort-cpu")
    img = bench_image(150, 130)
    tiled = model.stylize_tiled(img, tile=64, overlap=16, stats_pixels=10**6)
    assert tiled.shape == img.shape and int(np.abs(tiled.astype(int) - model(img)).max()) <= 1
    u8, _ = _convert(sty, tmp_path / "u8.sfbundle", io="uint8-nhwc")
    with pytest.raises(StyleForgeError, match="float NCHW image graph.*uint8 NHWC"):
        add_tiling_to_bundle(u8)


def test_triton_on_a_uint8_variant_is_the_variant_itself(sty, tmp_path):
    """A bundle already converted to uint8 NHWC I/O goes to Triton as is (no second wrapper): same bytes out."""
    import onnxruntime as ort

    from styleforge.export.triton.writer import write_repository
    from styleforge.runtime import load
    from styleforge.runtime.latency import bench_image

    u8, _ = _convert(sty, tmp_path / "u8.sfbundle", io="uint8-nhwc")
    (name,) = write_repository([u8], tmp_path / "repo")
    s = ort.InferenceSession(str(tmp_path / "repo" / name / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [i.type for i in s.get_inputs() if i.name == "image"] == ["tensor(uint8)"]
    img = bench_image(33, 45)
    feeds = {"image": img[None]} | ({"style_index": np.array([0])} if len(s.get_inputs()) > 1 else {})
    assert np.array_equal(s.run(None, feeds)[0][0], load(u8, backend="ort-cpu")(img))


# --- WCT -----------------------------------------------------------------------------------------------

def test_wct_fp16_keeps_the_linear_algebra_in_fp32(wct, tmp_path):
    from onnx import TensorProto

    out, report = _convert(wct, tmp_path / "wct16.sfbundle", precision="fp16")
    assert report["passed"] and report["tolerance_profile"] == "fp16"
    g, _ = _graph(out, "stylize")
    inf = onnx.shape_inference.infer_shapes(g)
    types = {v.name: v.type.tensor_type.elem_type for v in list(inf.graph.value_info) + list(inf.graph.input)}
    types.update({i.name: i.data_type for i in inf.graph.initializer})
    mm = [n for n in g.graph.node if n.op_type in ("MatMul", "ReduceMean")]
    assert mm and all(types.get(i) == TensorProto.FLOAT for n in mm for i in n.input[:1])
    assert any(types.get(n.input[1]) == TensorProto.FLOAT16 for n in g.graph.node if n.op_type == "Conv")
    assert {c["case"] for c in report["cases"]} >= {"encode_style", "ns_vs_exact_32x32"}


def test_wct_int8_with_uint8_io(wct, tmp_path):
    """int8 quantises the coarsest level's decoder only and keeps the statistics graph fp32; uint8 I/O wraps every
    image tensor of every graph (content and style of the one-shot graph), statistics stay float."""
    out, report = _convert(wct, tmp_path / "wct8.sfbundle", precision="int8", io="uint8-nhwc", calibration=CAL[:3],
                           calibration_size=32)
    assert report["passed"] and report["tolerance_profile"] == "int8"
    sty, m = _graph(out, "stylize")
    enc, _ = _graph(out, "encode_style")
    assert "QuantizeLinear" not in _ops(enc)  # statistics graph kept fp32
    assert "MatMul" in _ops(sty)
    producers = {o: n for n in sty.graph.node for o in n.output}
    quantised = [n.name for n in sty.graph.node if n.op_type == "Conv" and producers.get(n.input[1]) is not None
                 and producers[n.input[1]].op_type == "DequantizeLinear"]
    assert quantised and all("/decoders.2/" in n for n in quantised)  # the coarsest level's decoder only
    stats = [o for c in report["cases"] if c["graph"] == "encode_style" for o in c["outputs"]]
    assert stats and all(o["tolerance_profile"] == "int8" and o["passed"] for o in stats)
    by = {g["role"]: g for g in m["graphs"]}
    assert [t["dtype"] for t in by["stylize_pair"]["inputs"]] == ["uint8", "uint8", "float32"]
    assert by["encode_style"]["inputs"][0]["dtype"] == "uint8" and by["encode_style"]["outputs"][0]["dtype"] == "float32"
    from styleforge.runtime import load
    from styleforge.runtime.latency import bench_image

    content, style = bench_image(30, 34), bench_image(32, 32, "mosaic")
    a = load(out, backend="ort-cpu")(content, style=style)
    b = load(wct, backend="ort-cpu")(content, style=style)
    assert a.shape == b.shape and a.dtype == np.uint8


# --- the other families ---------------------------------------------------------------------------------

def test_generator_int8_and_translator_fp16(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from test_gan_latent import TINY
    from test_image2image import P2P_OPTS

    from styleforge.export.core.api import export_checkpoint
    from styleforge.train.gan import get_trainer_class
    from styleforge.train.image2image.pix2pix import Pix2PixTrainer

    t = get_trainer_class("dcgan")(tmp_path / "g", dict(TINY), steps=2, seed=0, checkpoint_every=2)
    t.progress = False
    t.fit()
    g = export_checkpoint(tmp_path / "g", tmp_path / "g.sfbundle")
    out, report = _convert(g, tmp_path / "g8.sfbundle", precision="int8")  # calibrated on latents
    assert report["passed"] and report["tolerance_profile"] == "int8"
    assert "QuantizeLinear" in _ops(_graph(out, "generate")[0])
    assert json.loads((out / "manifest.json").read_text())["lineage"]["conversion"]["calibration"] == []
    Pix2PixTrainer(tmp_path / "p", dict(P2P_OPTS), steps=2, checkpoint_every=2, progress=False).fit()
    p = export_checkpoint(tmp_path / "p", tmp_path / "p.sfbundle")
    out, report = _convert(p, tmp_path / "p16.sfbundle", precision="fp16", io="uint8-nhwc")
    assert report["passed"] and report["tolerance_profile"] == "fp16"
    from styleforge.runtime import load

    img = np.full((40, 40, 3), 128, np.uint8)
    assert load(out, backend="ort-cpu")(img).shape == img.shape


def test_cli_convert(sty, tmp_path, capsys):
    from styleforge.runtime.cli import main

    assert main(["convert", str(sty), "--precision", "fp32", "--out", str(tmp_path / "c.sfbundle")]) == 0
    assert "PASS" in capsys.readouterr().out
    assert main(["validate", str(tmp_path / "c.sfbundle")]) == 0
    rc = main(["convert", str(sty), "--precision", "int8", "--calibration", str(tmp_path / "nope"), "--out",
               str(tmp_path / "d.sfbundle")])
    assert rc == 2 and "nope" in capsys.readouterr().err and not (tmp_path / "d.sfbundle").exists()


def test_bench_compares_variants_and_backends(sty, wct, tmp_path, capsys):
    """bench: bundles × backends × sizes in one run; unavailable backends are rows saying why; WCT gets the
    PytorchWCT-style exact pipeline; --plot draws the rows."""
    from styleforge.runtime.cli import main

    v, _ = _convert(sty, tmp_path / "v.sfbundle", io="uint8-nhwc", validate=False)
    png = tmp_path / "lat.png"
    assert main(["bench", str(sty), str(v), "--sizes", "24,32x40", "--runs", "1", "--warmup", "0", "--threads", "1",
                 "--backends", "ort-cpu,ort-cuda,tensorrt,torch-cuda", "--json", "--plot", str(png)]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    keys = [(r["bundle"].split("/")[-1], r["backend"], r["size"]) for r in rows]
    assert ("sty.sfbundle", "ort-cpu", "24x24") in keys and ("v.sfbundle", "ort-cpu", "32x40") in keys
    assert ("sty.sfbundle", "torch-eager", "32x40") in keys
    for r in rows:
        assert set(r) >= {"bundle", "precision", "backend", "size", "median_ms", "p90_ms", "psnr_db", "gpu"}
        if r["backend"] in ("ort-cuda", "tensorrt", "torch-cuda"):
            assert r["median_ms"] is None and r["error"]  # why, not a crash
        else:
            assert r["median_ms"] > 0
    first = next(r for r in rows if r["backend"] == "ort-cpu" and r["size"] == "24x24")
    assert first["psnr_db"] is None
    u8 = next(r for r in rows if r["bundle"].endswith("v.sfbundle") and r["backend"] == "ort-cpu" and r["size"] == "24x24")
    assert u8["io"] == "uint8-nhwc" and (u8["psnr_db"] == "inf" or u8["psnr_db"] > 45)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["bench", str(wct), "--sizes", "32", "--runs", "1", "--warmup", "0", "--threads", "1", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["backend"] for r in rows] == ["ort-cpu", "torch-exact"] and all(r["median_ms"] > 0 for r in rows)
    assert rows[1]["psnr_db"] == "inf" or rows[1]["psnr_db"] > 25  # NS graph vs the exact pipeline, same pixels


def test_passes_say_whether_they_apply(sty):
    """convert is a list of passes (export/convert/passes.py): which run depends on the options and the graph."""
    from styleforge.export.convert.io_uint8 import image_tensors
    from styleforge.export.convert.passes import PASSES, ConvertOptions, GraphJob
    from styleforge.runtime.bundle import open_bundle

    parent = open_bundle(sty)
    g = parent.graph("stylize")
    ins, outs = image_tensors(g)

    def applying(**opts):
        job = GraphJob(parent, g, ConvertOptions(**opts), ins=ins, outs=outs)
        return [p.name for p in PASSES if p.applies(job)]

    assert applying() == ["slim", "folds"]
    assert applying(precision="fp16") == ["slim", "folds", "fp16"]
    assert applying(precision="int8", io="uint8-nhwc") == ["slim", "folds", "int8", "uint8-io"]
