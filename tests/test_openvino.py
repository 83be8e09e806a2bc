"""The ``openvino`` runner (runtime/backends/openvino.py) on every interface — stylizer, translator, generator (toy
bundles) and WCT (a tiny trained one) — against ort-cpu on the same inputs; its tolerance profiles (openvino-f32,
bf16 by the precision OpenVINO really computes in, int8 for int8 graphs); reshaping and the dynamic mode; the
infer-request pool under threads; ``supports()`` naming an operator OpenVINO cannot run; and the ONNX Runtime
session policy (spinning by load, optimisation level, ``--runner-option``)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("openvino", reason="the openvino extra is not installed (pip install 'styleforge[openvino]')")
pytest.importorskip("onnx", reason="the toy bundles are built with onnx")

import toy_bundles as toy  # noqa: E402  (tests/ is on sys.path: pytest rootdir conftest)

from styleforge.runtime.backends import open_session, runner_class  # noqa: E402
from styleforge.runtime.model import load  # noqa: E402
from styleforge.runtime.validation import validate_bundle  # noqa: E402


def _img(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("writer", ["write_stylizer", "write_translator", "write_generator"])
def test_toy_interfaces_validate_and_match_ort(tmp_path, writer):
    path = getattr(toy, writer)(tmp_path / "toy.sfbundle")
    report = validate_bundle(path, backend="openvino")
    assert report["passed"], report
    assert report["tolerance_profile"] == "openvino-f32"
    assert report["providers"][0].startswith("OpenVINO CPU")
    ov, ort = load(path, backend="openvino"), load(path, backend="ort-cpu")
    if writer == "write_generator":
        z = ort.latents([0, 1])
        assert np.array_equal(ov.generate(z, labels=[0, 2])[0], ort.generate(z, labels=[0, 2])[0])
    else:
        img = _img(30, 41)  # not a multiple of 4: the interface pads and crops (io_plan), the runner reshapes
        assert np.array_equal(ov(img), ort(img))


def test_reshape_dynamic_mode_and_shape_cache(tmp_path):
    from styleforge.runtime.backends import openvino as ovr

    path = toy.write_translator(tmp_path / "tr.sfbundle")
    model = load(path, backend="openvino")
    sizes = [(8, 8), (12, 16), (20, 8), (8, 12), (16, 16), (8, 8)]
    for h, w in sizes:
        assert model(_img(h, w)).shape == (h, w, 3)
    runner = model.session("translate")
    assert len(runner._compiled) == ovr.MAX_SHAPES  # the oldest shapes were dropped, the LRU kept the recent ones
    from styleforge.runtime.bundle import open_bundle

    dyn = open_session(open_bundle(path), "translate", "openvino", dynamic=True, hint="throughput", threads=1)
    x = np.random.default_rng(1).uniform(0, 255, (1, 3, 12, 20)).astype(np.float32)
    assert np.allclose(dyn.run({"image": x})["translated"], 255 - x)
    assert list(dyn._compiled) == [None]  # one dynamic compilation serves every shape


def test_bad_options_are_one_line_errors(tmp_path):
    from styleforge.runtime.bundle import open_bundle
    from styleforge.runtime.errors import StyleForgeError

    b = open_bundle(toy.write_translator(tmp_path / "tr.sfbundle"))
    with pytest.raises(StyleForgeError, match="hint must be one of"):
        open_session(b, "translate", "openvino", hint="fast")
    with pytest.raises(StyleForgeError, match="precision must be one of"):
        open_session(b, "translate", "openvino", precision="int4")


def test_precision_hint_picks_the_profile_of_what_really_runs(tmp_path):
    from styleforge.runtime.backends.openvino import native_bf16
    from styleforge.runtime.manifest import profile_name

    path = toy.write_stylizer(tmp_path / "s.sfbundle")
    report = validate_bundle(path, backend="openvino", precision="bf16")
    runner_prec = "bf16" if native_bf16() else "f32"
    assert report["providers"] == [f"OpenVINO CPU (latency, {runner_prec})"]
    assert report["tolerance_profile"] == ("bf16" if native_bf16() else "openvino-f32")
    assert profile_name("openvino", "fp32", "bf16") == "bf16"
    assert profile_name("openvino", "int8", "bf16") == "int8"
    assert profile_name("openvino", "fp32", "f32") == "openvino-f32"
    assert profile_name("ort-cpu", "fp32") == "cpu-fp32"


def test_exported_bundles_carry_openvino_profiles_with_a_basis():
    from styleforge.export.core.bundle_writer import BundleWriter

    w = BundleWriter(name="x", method="m", family="graph", interface="graph", config=None, loss_network="none")
    from styleforge.runtime.manifest import Tolerance

    w.set_tolerances(Tolerance(max_abs=1e-3, min_psnr=115.0), per_output={"stats": Tolerance(max_abs=1e-4)})
    profiles = w.manifest.tolerances.profiles
    assert {"openvino-f32", "bf16"} <= set(profiles)
    assert profiles["openvino-f32"].default == Tolerance(max_abs=1e-2, min_psnr=95.0)  # x10, 20 dB lower
    assert profiles["openvino-f32"].per_output["stats"].max_abs == pytest.approx(1e-3)
    assert profiles["bf16"].default.min_psnr < profiles["openvino-f32"].default.min_psnr
    assert profiles["bf16"].per_output["stats"].min_cosine == 0.999  # non-image outputs: direction only
    assert "measured" in profiles["bf16"].basis and "measured" in profiles["openvino-f32"].basis


def test_old_bundle_without_openvino_profile_falls_back_to_gpu_tf32():
    from styleforge.runtime.manifest import Tolerance, TolerancePolicy, ToleranceProfile

    tf32 = ToleranceProfile(default=Tolerance(max_abs=1.0))
    pol = TolerancePolicy(default=Tolerance(max_abs=1e-3), profiles={"gpu-tf32": tf32})
    assert pol.profile("openvino-f32") is tf32
    assert pol.profile("bf16").default.max_abs == 1e-3  # no fallback: the strict default, never silently looser


def test_supports_names_the_operator_openvino_cannot_run(tmp_path):
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    y = helper.make_tensor_value_info("translated", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    g = helper.make_graph([helper.make_node("Frobnicate", ["image"], ["translated"], domain="acme")], "g", [x], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("acme", 1)])
    m.ir_version = 8
    from styleforge.runtime.families.translator import TranslatorConfig

    w = toy._writer("odd", "cyclegan", "image2image", "translator", TranslatorConfig(directions={"translate": "A->B"}))
    w.add_graph("translate", m.SerializeToString())
    from styleforge.runtime.bundle import open_bundle

    bundle = open_bundle(w.write(tmp_path / "odd.sfbundle"))
    verdict = runner_class("openvino").supports(bundle, "translate")
    assert not verdict and "Frobnicate" in verdict.why
    from styleforge.runtime.errors import StyleForgeError

    with pytest.raises(StyleForgeError, match="cannot run operator.*Frobnicate"):
        open_session(bundle, "translate", "openvino")
    bundle.manifest.model.config.plugin_graphs = ["translate"]  # a TensorRT plugin graph: refused before reading it
    assert "styleforge::WhitenColor" in runner_class("openvino").supports(bundle, "translate").why


def test_infer_request_pool_is_safe_under_threads(tmp_path):
    path = toy.write_stylizer(tmp_path / "s.sfbundle")
    model = load(path, backend="openvino", hint="throughput", threads=2)
    imgs = [_img(16, 20, seed=k) for k in range(8)]
    want = [load(path, backend="ort-cpu")(im) for im in imgs]
    got: dict[int, np.ndarray] = {}

    def work(k):
        got[k] = model(imgs[k])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert all(np.array_equal(got[k], want[k]) for k in range(8))


# --- trained bundles (torch) ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    pytest.importorskip("torch")
    from styleforge.export.core.api import export_checkpoint
    from styleforge.train.stylizer.trainer import train_stylizer
    from styleforge.train.wct.trainer import WCTDecoderTrainer

    d = tmp_path_factory.mktemp("ov_trained")
    ckpt = train_stylizer(["sample:mosaic"], d / "run", steps=2, size=32, batch=1, width_mult=0.125, progress=False)
    sty = export_checkpoint(ckpt, d / "sty.sfbundle")
    for level in (1, 2):
        WCTDecoderTrainer(d / "wct" / f"level{level}", level=level, size=32, batch_size=1, width_mult=0.125, steps=1,
                          progress=False).fit()
    wct = export_checkpoint(d / "wct", d / "wct.sfbundle", golden_sizes="32x32")
    return {"stylizer": sty, "wct": wct, "dir": d}


def test_wct_bundle_on_openvino(trained):
    report = validate_bundle(trained["wct"], backend="openvino")
    assert report["passed"], [(c["case"], [o["failed"] for o in c["outputs"]]) for c in report["cases"]]
    ov, ort = load(trained["wct"], backend="openvino"), load(trained["wct"], backend="ort-cpu")
    content, style = _img(36, 28, 2), _img(32, 32, 3)
    a, b = ov(content, style), ort(content, style)
    assert a.shape == b.shape == (36, 28, 3)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 2  # grey levels: fp32 rounding only


def test_int8_bundle_runs_as_int8_on_openvino(trained):
    from styleforge.export.convert.api import convert_bundle

    path, _ = convert_bundle(trained["stylizer"], trained["dir"] / "int8.sfbundle", precision="int8",
                             calibration=["sample:astronaut", "sample:coffee"], validate=False)
    ov, ort = validate_bundle(path, backend="openvino"), validate_bundle(path, backend="ort-cpu")
    assert ov["tolerance_profile"] == "int8"
    worst = lambda r: min(o["psnr"] for c in r["cases"] for o in c["outputs"])  # noqa: E731
    # a 2-step net is the int8 recipe's hardest case (it may miss its profile on either runner); OpenVINO's int8
    # kernels must lose no more than ONNX Runtime's on the same QDQ graph (measured: within 0.1 dB)
    assert worst(ov) >= worst(ort) - 1.0, (worst(ov), worst(ort))
    agree = validate_bundle(path, backend="openvino", against="ort-cpu")
    assert agree["tolerance_profile"] == "int8" and agree["passed"], agree
    fp32 = validate_bundle(trained["stylizer"], backend="openvino")
    assert fp32["passed"] and fp32["tolerance_profile"] == "openvino-f32"


# --- ONNX Runtime session policy (runtime/backends/ort.py) -------------------------------------------------

def test_spinning_policy_follows_the_load(monkeypatch):
    import os

    from styleforge.runtime.backends import ort
    from styleforge.runtime.errors import StyleForgeError

    assert ort.spin_policy(True) is True and ort.spin_policy("off") is False and ort.spin_policy("on") is True
    cores = os.cpu_count() or 1
    monkeypatch.setattr(os, "getloadavg", lambda: (cores * 2.0, 0.0, 0.0))
    assert ort.spin_policy("auto") is False  # busy: idle threads sleep
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert ort.spin_policy("auto") is True   # idle: ONNX Runtime's default
    with pytest.raises(StyleForgeError, match="spinning must be"):
        ort.spin_policy("sometimes")


def test_session_options_reach_onnx_runtime(tmp_path):
    from styleforge.runtime.bundle import open_bundle
    from styleforge.runtime.errors import StyleForgeError

    b = open_bundle(toy.write_translator(tmp_path / "tr.sfbundle"))
    runner = open_session(b, "translate", "ort-cpu", opt_level="basic", spinning="off", threads=1)
    opts = runner.loader.options(3)
    assert str(opts.graph_optimization_level).endswith("ORT_ENABLE_BASIC") and opts.intra_op_num_threads == 1
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    x = np.full((1, 3, 8, 8), 7.0, np.float32)
    assert np.array_equal(runner.run({"image": x})["translated"], 255 - x)
    with pytest.raises(StyleForgeError, match="opt_level must be one of"):
        open_session(b, "translate", "ort-cpu", opt_level="max")


def test_runner_options_on_the_command_line(tmp_path, cli):
    from styleforge.runtime.cli import parse_runner_options
    from styleforge.runtime.errors import StyleForgeError

    assert parse_runner_options(["spinning=off", "threads=2", "hint=throughput"]) == \
        {"spinning": False, "threads": 2, "hint": "throughput"}
    with pytest.raises(StyleForgeError, match="expected KEY=VALUE"):
        parse_runner_options(["spinning"])
    path = toy.write_translator(tmp_path / "tr.sfbundle")
    r = cli("validate", path, "--backend", "openvino", "--runner-option", "hint=throughput",
            "--runner-option", "precision=f32", "--json")
    assert r.returncode == 0 and "OpenVINO CPU (throughput, f32)" in r.stdout, r.stdout + r.stderr
    r = cli("validate", path, "--runner-option", "opt_level=max")
    assert r.returncode != 0 and "opt_level must be one of" in r.stderr and "Traceback" not in r.stderr
