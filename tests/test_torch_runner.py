"""The PyTorch side as a runner (export/core/torch_runner.py) against ONNX Runtime on the same bundles (tiny
stylizer, WCT, generator, translator), at sizes the export did not see; and the tools over runners that need
real bundles: ``engine build --check-only --json`` on a WCT bundle, the ``--wct plugin`` golden case,
validation golden ↔ backend and backend ↔ backend, read-only bundles, and the tolerance profiles."""
from __future__ import annotations

import hashlib
import json
import os
import stat

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from styleforge.runtime.errors import StyleForgeError  # noqa: E402

TINY_WIDTH = 0.125


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny models, 1 training step each, exported: {name: bundle path} (+ the WCT folder)."""
    from styleforge.export.core.api import export_checkpoint
    from styleforge.train.gan import get_trainer_class
    from styleforge.train.image2image.pix2pix import Pix2PixTrainer
    from styleforge.train.stylizer.trainer import train_stylizer
    from styleforge.train.wct.trainer import WCTDecoderTrainer

    d = tmp_path_factory.mktemp("models")
    out = {}
    ck = train_stylizer(["sample:mosaic", "sample:waves"], d / "st", steps=1, size=32, batch=2, width_mult=TINY_WIDTH,
                        progress=False)
    out["stylizer"] = export_checkpoint(ck, d / "st.sfbundle")
    for level in (1, 3):  # size multiple 2^(3-1) = 4
        WCTDecoderTrainer(d / "wct" / f"level{level}", level=level, size=32, batch_size=1, width_mult=TINY_WIDTH,
                          steps=1, progress=False).fit()
    out["wct_dir"] = d / "wct"
    out["wct"] = export_checkpoint(d / "wct", d / "w.sfbundle", golden_sizes="32x32")
    out["wct_plugin"] = export_checkpoint(d / "wct", d / "wp.sfbundle", golden_sizes="32x32", wct="plugin")
    t = get_trainer_class("dcgan")(d / "gan", {"resolution": 8, "batch": 4, "width_mult": 0.0625, "nz": 8}, steps=1,
                                   seed=0, checkpoint_every=1, preview_every=1)
    t.progress = False
    t.fit()
    out["generator"] = export_checkpoint(d / "gan", d / "g.sfbundle")
    Pix2PixTrainer(d / "p2p", {"resolution": 32, "width_mult": 1 / 16, "batch": 2, "n_layers": 2}, steps=1,
                   checkpoint_every=1, progress=False).fit()
    out["translator"] = export_checkpoint(d / "p2p", d / "p.sfbundle")
    return out


def _ort(bundle, role):
    from styleforge.runtime.backends import open_session
    from styleforge.runtime.bundle import open_bundle

    return open_session(open_bundle(bundle), role, "ort-cpu")


def _close(a, b, max_abs):
    d = np.abs(a.astype(np.float64) - b)
    assert d.max() <= max_abs, d.max()


@pytest.mark.parametrize("name, role, feeds, tol", [
    ("stylizer", "stylize", lambda r: {"image": r.uniform(0, 255, (2, 3, 44, 28)).astype(np.float32),
                                       "style_index": np.array([1, 0])}, 4e-3),
    ("translator", "translate", lambda r: {"image": r.uniform(0, 255, (1, 3, 64, 96)).astype(np.float32)}, 5e-3),
    ("generator", "generate", lambda r: {"z": r.standard_normal((5, 8)).astype(np.float32)}, 5e-3),
    ("generator", "generate_dissect", None, 5e-3),
])
def test_torch_runner_matches_ort_at_unseen_sizes(models, name, role, feeds, tol):
    from styleforge.export.core.torch_runner import TorchRunner
    from styleforge.runtime.bundle import read_manifest

    rng = np.random.default_rng(0)
    if feeds is None:  # the first dissect graph: z and a per-unit scale of its layer's width
        graph = next(g for g in read_manifest(models[name]).graphs if g.role.startswith(role))
        role = graph.role
        f = {"z": rng.standard_normal((2, 8)).astype(np.float32),
             "unit_scale": rng.uniform(0, 2, graph.input("unit_scale").shape[0]).astype(np.float32)}
    else:
        f = feeds(rng)
    r = TorchRunner(models[name], device="cpu", role=role)
    assert r.name == "torch-eager" and r.input_names == list(f) and r.role == role
    got, ref = r.run(f), _ort(models[name], role).run(f)
    assert set(got) == set(ref) and r.last_inference_time > 0
    for k in ref:
        _close(got[k], ref[k], tol if k != "activation" else 1e-3)


def test_torch_runner_wct_graphs_and_options(models):
    """WCT through the pipeline of train/wct: the three graphs against ORT at a size the export did not see;
    channels_last gives the same numbers; bad options are one-line errors."""
    from styleforge.export.core.torch_runner import TorchRunner
    from styleforge.export.wct.exporter import golden_pair

    c, s = golden_pair(40, 28, (48, 48))
    alpha = np.array([1.0, 0.6], np.float32)
    stats_t = TorchRunner(models["wct"], device="cpu", role="encode_style").run({"style": s})
    stats_o = _ort(models["wct"], "encode_style").run({"style": s})
    for k in stats_o:
        _close(stats_t[k], stats_o[k], 1e-3 * max(1.0, float(np.abs(stats_o[k]).max())))
    feeds = {"content": c, "alpha": alpha, **stats_o}
    img_t = TorchRunner(models["wct"], device="cpu", role="stylize").run(feeds)["image"]
    _close(img_t, _ort(models["wct"], "stylize").run(feeds)["image"], 0.05)
    cl = TorchRunner(models["wct"], device="cpu", role="stylize_pair", channels_last=True)
    assert cl.name == "torch-eager-cl"
    _close(cl.run({"content": c, "style": s, "alpha": alpha})["image"],
           _ort(models["wct"], "stylize_pair").run({"content": c, "style": s, "alpha": alpha})["image"], 0.05)
    by_ckpt = TorchRunner(models["wct_dir"], device="cpu", role="stylize")  # a WCT folder instead of the bundle
    assert by_ckpt.input_names == ["content", "alpha", "mean3", "color3", "mean1", "color1"]
    with pytest.raises(StyleForgeError, match="cuda-graphs needs device cuda"):
        TorchRunner(models["wct"], device="cpu", mode="cuda-graphs")
    with pytest.raises(StyleForgeError, match="mode 'fast'"):
        TorchRunner(models["wct"], device="cpu", mode="fast")
    with pytest.raises(StyleForgeError, match="no graph 'nope'"):
        TorchRunner(models["wct"], device="cpu", role="nope")
    with pytest.raises(StyleForgeError, match="needs input"):
        TorchRunner(models["wct"], device="cpu", role="stylize_pair").run({"content": c})
    if not torch.cuda.is_available():
        with pytest.raises(StyleForgeError, match="no usable CUDA device"):
            TorchRunner(models["wct"], device="cuda")


def test_wct_check_only_json_profiles_respect_the_size_rule(models, cli):
    """The issue's acceptance: ``engine build WCT_BUNDLE --check-only --json`` shows minimum shapes that are
    multiples of the bundle's multiple_of (and at least min_side), without TensorRT."""
    p = cli("engine", "build", models["wct"], "--check-only", "--json")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    m = report["size_constraints"]["multiple_of"]
    assert m == 4 and {g["role"] for g in report["graphs"]} == {"encode_style", "stylize", "stylize_pair"}
    spatial = 0
    for g in report["graphs"]:
        for prof in g["profiles"]:
            assert set(prof) >= {"input", "min", "opt", "max"}
            if prof["input"] in ("content", "style"):
                for dims in (prof["min"], prof["opt"], prof["max"]):
                    assert dims[2] % m == 0 and dims[3] % m == 0
                assert min(prof["min"][2:]) >= report["size_constraints"]["min_side"]
                spatial += 1
    assert spatial == 4  # content in stylize and stylize_pair, style in encode_style and stylize_pair
    p = cli("engine", "build", models["wct_plugin"], "--check-only", "--json", "--role", "stylize_pair",
            "--shapes", "content:1x3x64x64:1x3x128x128:2x3x256x256", "--shapes", "content:1x3x256x256:1x3x512x512:1x3x1024x1024")
    g = json.loads(p.stdout)["graphs"][0]
    assert g["plugins"] == ["styleforge::WhitenColor"] and g["requires"]
    assert [x["min"] for x in g["profiles"] if x["input"] == "content"] == [[1, 3, 64, 64], [1, 3, 256, 256]]
    for bad, msg in (("content:1x3x30x32:1x3x64x64:1x3x64x64", "multiple of 4"),
                     ("contnet:1x3x32x32:1x3x64x64:1x3x64x64", "no graph .* has an input named contnet"),
                     ("alpha:3:3:3", "fixed shape")):
        p = cli("engine", "build", models["wct"], "--check-only", "--shapes", bad)
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert __import__("re").search(msg, p.stderr), p.stderr


def test_wct_plugin_graph_has_a_golden_case(models):
    """--wct plugin bundles get a golden case for the plugin graph (PyTorch NS pipeline as reference): ONNX
    Runtime runners skip it with the reason; the PyTorch side reproduces it."""
    from styleforge.export.core.torch_runner import TorchRunner
    from styleforge.runtime.bundle import open_bundle
    from styleforge.runtime.validation import compare, validate_bundle

    bundle = open_bundle(models["wct_plugin"])
    (case,) = [c for c in bundle.golden if c.graph == "stylize_pair"]
    assert case.name == "pair_32x32" and case.reference == "pytorch" and "plugin" in case.description
    report = validate_bundle(models["wct_plugin"], backend="ort-cpu")
    assert report["passed"] and report["skipped"] == 1
    (skipped,) = [c for c in report["cases"] if c.get("skipped")]
    assert skipped["case"] == "pair_32x32" and "styleforge::WhitenColor" in skipped["skipped"]
    feeds, expected = bundle.golden_arrays(case)
    got = TorchRunner(models["wct_plugin"], device="cpu", role="stylize_pair").run(feeds)["image"]
    assert compare(got, expected["image"], 255.0)["max_abs"] < 1e-3


def _snapshot(path):
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.rglob("*"))
            if p.is_file()}


def test_validate_leaves_a_read_only_bundle_byte_identical(models, cli):
    """validate writes nothing unless --record: a read-only bundle validates and every file stays the same
    (checked by content, since root could write into a read-only folder anyway)."""
    path = models["stylizer"]
    before = _snapshot(path)
    modes = {p: p.stat().st_mode for p in [path, *path.rglob("*")]}
    try:
        for p in modes:
            os.chmod(p, modes[p] & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        p = cli("validate", path, "--json")
        assert p.returncode == 0, p.stderr
        rep = json.loads(p.stdout)
        assert rep["passed"] and rep["tolerance_profile"] == "cpu-fp32" and rep["runners"]["stylize"]["chosen"] == "ort-cpu"
        p = cli("validate", path, "--backend", "ort-cpu", "--against", "ort-cpu")
        assert p.returncode == 0 and "vs ort-cpu" in p.stdout
        assert _snapshot(path) == before
    finally:
        for p, mode in modes.items():
            os.chmod(p, mode)
    p = cli("validate", path, "--record")
    assert p.returncode == 0
    after = _snapshot(path)
    assert "validation-ort-cpu.json" in after and after["manifest.json"] != before["manifest.json"]


def test_validate_against_another_runner_and_tolerance_profiles(models, monkeypatch):
    """Backend ↔ backend compares the two runners' outputs (not the stored ones) under the looser of their
    profiles; the stylizer's cpu-fp32 profile is tight (its measured CPU basis) and its gpu-tf32 profile holds
    the H100 TF32 measurement; other families record a gpu-tf32 profile derived from it."""
    from styleforge.export.core.torch_runner import TorchRunner
    from styleforge.runtime.bundle import open_bundle
    from styleforge.runtime.validation import validate_bundle

    tol = open_bundle(models["stylizer"]).tolerances
    cpu, gpu = tol.profile("cpu-fp32"), tol.profile("gpu-tf32")
    assert cpu.default.max_abs <= 1e-2 and "max_abs<=2.3e-3" in cpu.basis   # measured across training stages
    assert gpu.default.max_abs == 1.0 and "measured for this family" in gpu.basis and "H100" in gpu.basis
    for fam in ("wct", "generator", "translator"):
        prof = open_bundle(models[fam]).tolerances.profile("gpu-tf32")
        assert prof.default.max_abs == 1.0 and prof.basis.startswith("derived, not measured for this family")
    assert open_bundle(models["generator"]).tolerances.profile("gpu-tf32").per_output["activation"].min_cosine == 0.9999

    report = validate_bundle(models["stylizer"], backend="ort-cpu", against="ort-cpu")
    assert report["passed"] and all(o["max_abs"] == 0.0 for c in report["cases"] for o in c["outputs"])
    assert {c["reference"] for c in report["cases"]} == {"ort-cpu"} and report["against"] == "ort-cpu"

    # a GPU runner's outputs (simulated: ORT CPU plus a TF32-sized error) are judged by gpu-tf32, not cpu-fp32
    from styleforge.runtime.backends import RUNNERS
    from styleforge.runtime.backends.ort import OrtCpuRunner

    class FakeGpu(OrtCpuRunner):
        name = "fake-gpu"

        def run_impl(self, feeds):
            return {k: v + 0.05 for k, v in super().run_impl(feeds).items()}

    monkeypatch.setitem(RUNNERS, "fake-gpu", FakeGpu)
    gpu_report = validate_bundle(models["stylizer"], backend="fake-gpu")
    assert gpu_report["passed"] and gpu_report["tolerance_profile"] == "gpu-tf32"
    vs = validate_bundle(models["stylizer"], backend="ort-cpu", against="fake-gpu")
    assert vs["passed"] and vs["tolerance_profile"] == "gpu-tf32"
    assert not validate_bundle(models["stylizer"], backend="fake-gpu", against="fake-gpu")["skipped"]
    monkeypatch.setattr(FakeGpu, "name", "ort-cpu")  # the same error judged as CPU output fails the tight profile
    monkeypatch.setitem(RUNNERS, "ort-cpu", FakeGpu)
    assert not validate_bundle(models["stylizer"], backend="ort-cpu")["passed"]
    assert TorchRunner(models["stylizer"], device="cpu").name == "torch-eager"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (PyTorch CUDA build and a GPU)")
def test_torch_cuda_runner_matches_the_cpu(models):
    """torch-cuda (eager and CUDA graphs, fp32 = TF32 convolutions) within the stylizer's gpu-tf32 profile of
    torch-eager on the CPU; CUDA-graph replays follow new inputs; fp16 and channels-last stay close (cosine)."""
    from styleforge.export.core.torch_runner import TorchRunner
    from styleforge.runtime.bundle import open_bundle
    from styleforge.runtime.validation import check, compare

    rng = np.random.default_rng(3)
    tol = open_bundle(models["stylizer"]).tolerances.for_output("stylized", profile="gpu-tf32")
    cpu = TorchRunner(models["stylizer"], device="cpu")
    for kw in (dict(), dict(mode="cuda-graphs"), dict(fp16=True, channels_last=True)):
        r = TorchRunner(models["stylizer"], device="cuda", **kw)
        for _ in range(3):  # graphs: capture, then replays with other inputs
            f = {"image": rng.uniform(0, 255, (2, 3, 64, 48)).astype(np.float32), "style_index": np.array([0, 1])}
            m = compare(r.run(f)["stylized"], cpu.run(f)["stylized"], 255.0)
            if kw.get("fp16"):
                assert m["cosine"] > 0.999, (r.name, m)
            else:
                assert check(m, tol) == [], (r.name, m)
    c = rng.uniform(0, 255, (1, 3, 64, 64)).astype(np.float32)
    f = {"content": c, "style": c[:, :, ::-1].copy(), "alpha": np.ones(2, np.float32)}
    m = compare(TorchRunner(models["wct"], device="cuda", role="stylize_pair").run(f)["image"],
                TorchRunner(models["wct"], device="cpu", role="stylize_pair").run(f)["image"], 255.0)
    assert m["cosine"] > 0.999, m
