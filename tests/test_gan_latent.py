"""GAN latent methods (dcgan, wgan, wgan-gp, cgan, pgan): train 2 steps, resume, export, ORT vs
PyTorch at unseen batch sizes; generate/latent CLI; Fréchet distance; offline eval; registry errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import run_cli

METHODS = ["dcgan", "wgan", "wgan-gp", "cgan", "pgan"]
TINY = {"resolution": 8, "batch": 4, "width_mult": 0.0625, "nz": 8}


def _train(method, out, steps, resume=False, **extra):
    from styleforge.train.gan import get_trainer_class

    cls = get_trainer_class(method)
    t = cls(out, {**TINY, **extra}, steps=steps, seed=0, resume=resume, checkpoint_every=2, preview_every=1)
    t.progress = False
    return t, t.fit()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """method -> (run dir, bundle path); each trained 2 steps, resumed to 3, exported."""
    from styleforge.export.core.api import export_checkpoint

    out = {}
    for method in METHODS:
        d = tmp_path_factory.mktemp(method.replace("-", ""))
        extra = {"projection": True} if method == "cgan" else {}
        t, _ = _train(method, d / "run", 2, **extra)
        assert t.step == 2 and len(t.history) == 2
        assert all(np.isfinite(v) for h in t.history for k, v in h.items())
        t2, ckpt = _train(method, d / "run", 3, resume=True, **extra)
        assert t2.history[:2] == t.history, "resume lost the loss history"
        assert t2.step == 3 and ckpt.name == "step-0000003"
        # the same 3 steps without an interruption: step for step the same losses, the same weights
        t3, straight = _train(method, d / "straight", 3, **extra)
        assert len(t3.history) == 3
        for a, b in zip(t3.history, t2.history):
            assert a.keys() == b.keys() and all(a[k] == pytest.approx(b[k], rel=1e-5, abs=1e-6) for k in a), (method, a, b)
        from styleforge.train.core.checkpoint import load_weights

        wa, wb = load_weights(straight), load_weights(ckpt)
        assert wa.keys() == wb.keys() and all(float((wa[k] - wb[k]).abs().max()) <= 1e-5 for k in wa), method
        assert (d / "run" / "previews" / "step-0000001.png").is_file(), "no preview grid from --preview-every"
        out[method] = (d / "run", export_checkpoint(d / "run", d / f"{method}.sfbundle"))
    return out


@pytest.mark.parametrize("method", METHODS)
def test_train_resume_export_matches_pytorch(runs, method):
    import torch

    from styleforge.runtime.model import load
    from styleforge.runtime.validation import validate_bundle
    from styleforge.train.core.checkpoint import load_modules, read_config

    run, bundle = runs[method]
    cfg = read_config(run)
    assert (cfg["family"], cfg["method"], cfg["interface"], cfg["step"]) == ("gan", method, "generator", 3)
    if method == "pgan":
        assert cfg["train"]["fade_steps"] == 1  # 2-step run: one step per phase, kept on resume
    assert validate_bundle(bundle, write_report=False)["passed"]
    g = load_modules(run, attrs=["g_ema"])[0]["g_ema"]
    model = load(bundle, backend="ort-cpu")
    for n in (2, 5):  # golden cases hold batch 1 and 3
        z = model.sample_latents(n, seed=n)
        labels = np.arange(n) % model.n_classes if model.n_classes else None
        got = model.generate_raw(z, labels)
        with torch.no_grad():
            ref = g(torch.from_numpy(z), torch.from_numpy(labels) if labels is not None else None)
        ref = ((ref.clamp(-1, 1) + 1) * 127.5).repeat(1, 3, 1, 1).numpy()
        assert got.shape == (n, 3, 8, 8)
        assert np.abs(got - ref).max() < 0.05
    layer = model.dissect_layers[-1]
    scale = np.ones(layer.channels, np.float32)
    z = model.sample_latents(4, 0)
    labels = np.zeros(4, np.int64) if model.n_classes else None
    img, act = model.generate_dissect(z, layer.name, scale, labels)
    np.testing.assert_allclose(img, model.generate_raw(z, labels), atol=1e-3)
    img0, act0 = model.generate_dissect(z, layer.name, np.zeros_like(scale), labels)
    assert np.abs(act0).max() == 0 and act.shape[1] == layer.channels


def test_checkpoints_keep_the_cuda_random_streams(tmp_path, monkeypatch):
    """Issue 14 #11: the CUDA generators' states (what sampling on a GPU draws from) are saved and restored, one per
    device. Without a GPU the torch.cuda calls are stand-ins that keep what they are given."""
    import torch

    from styleforge.train.core.checkpoint import load_train_state, save_checkpoint

    streams = [torch.arange(16, dtype=torch.uint8), torch.arange(16, 32, dtype=torch.uint8)]
    restored = {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: [s.clone() for s in streams])
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda st, device=0: restored.__setitem__(device, st.clone()))
    net = torch.nn.Linear(2, 2)
    ckpt = save_checkpoint(tmp_path / "run", 1, config={"family": "x", "models": {}}, modules={"net": net})
    load_train_state(ckpt, modules={"net": net})
    assert sorted(restored) == [0, 1] and all(torch.equal(restored[i], streams[i]) for i in (0, 1))


def test_unknown_method_lists_names(tmp_path):
    from styleforge.runtime.errors import StyleForgeError
    from styleforge.train.gan import get_trainer_class

    with pytest.raises(StyleForgeError, match="dcgan, pgan.*wgan, wgan-gp"):
        get_trainer_class("stylegan")
    p = run_cli("train", "gan", "--method", "stylegan", "--out", tmp_path / "r")
    assert p.returncode == 2 and "choose one of: cgan" in p.stderr


def _write_old_config(ckpt, **old) -> None:
    """Rewrite a checkpoint's config.json in the layout before family/method/interface (one "family" key)."""
    path = ckpt / "config.json"
    cfg = json.loads(path.read_text())
    for k in ("family", "method", "interface"):
        cfg.pop(k)
    path.write_text(json.dumps({**cfg, **old}))


def test_old_checkpoint_config_is_read_in_todays_words_and_exports(runs, tmp_path):
    """A checkpoint written before the vocabulary ({"family": "generator", "gan_family": "dcgan"}) is upgraded in
    memory when read (the file is left as it was), matched to its exporter and exported as before."""
    import shutil

    from styleforge.export.core.api import export_checkpoint
    from styleforge.train.core.checkpoint import read_config, resolve_checkpoint, upgrade_config

    ckpt = tmp_path / "old"
    shutil.copytree(resolve_checkpoint(runs["dcgan"][0]), ckpt)
    _write_old_config(ckpt, family="generator", gan_family="dcgan", train={"family": "dcgan", "nz": 8})
    before = (ckpt / "config.json").read_text()
    cfg = read_config(ckpt)
    assert (cfg["family"], cfg["method"], cfg["interface"]) == ("gan", "dcgan", "generator")
    assert "gan_family" not in cfg and cfg["train"] == {"nz": 8}
    assert (ckpt / "config.json").read_text() == before
    assert upgrade_config(cfg) is cfg  # a config in today's words is left alone
    bundle = export_checkpoint(ckpt, tmp_path / "old.sfbundle")
    m = json.loads((bundle / "manifest.json").read_text())["model"]
    assert (m["family"], m["method"], m["interface"]) == ("gan", "dcgan", "generator")
    old_i2i = upgrade_config({"family": "cyclegan", "models": {}})
    assert (old_i2i["family"], old_i2i["method"], old_i2i["interface"]) == ("image2image", "cyclegan", "translator")
    from styleforge.runtime.errors import StyleForgeError

    with pytest.raises(StyleForgeError, match="unknown checkpoint family 'hologram'"):
        upgrade_config({"family": "hologram"})


def test_method_flag_and_its_old_name(tmp_path, capsys):
    """``train gan --method NAME`` trains NAME; ``--family NAME`` (the old name) does the same with a one-line note;
    neither given: a one-line error."""
    from styleforge.runtime.cli import main
    from styleforge.train.core.checkpoint import read_config

    tiny = ["--steps", "1", "--resolution", "8", "--batch", "2", "--width-mult", "0.0625", "--nz", "8", "--no-progress"]
    assert main(["train", "gan", "--method", "wgan", "--out", str(tmp_path / "m"), *tiny]) == 0
    assert "old name" not in capsys.readouterr().err
    assert read_config(tmp_path / "m")["method"] == "wgan"
    assert main(["train", "gan", "--family", "dcgan", "--out", str(tmp_path / "f"), *tiny]) == 0
    err = capsys.readouterr().err
    assert "note: --family is an old name of --method; use --method dcgan" in err
    assert read_config(tmp_path / "f")["method"] == "dcgan"
    p = run_cli("train", "gan", "--out", tmp_path / "none", "--steps", "1")
    assert p.returncode != 0 and "--method: give one of" in p.stderr and "Traceback" not in p.stderr


def test_generate_and_latent_cli(runs, tmp_path):
    from PIL import Image

    bundle = runs["dcgan"][1]
    run_cli("generate", bundle, "--n", 6, "--seed", 0, "--out", tmp_path / "g.png", check=True)
    assert Image.open(tmp_path / "g.png").size[0] > 64
    run_cli("generate", runs["cgan"][1], "--n", 4, "--label", 3, "--out", tmp_path / "c.png", check=True)
    p = run_cli("generate", runs["cgan"][1], "--n", 4, "--label", 99, "--out", tmp_path / "bad.png")
    assert p.returncode == 2 and "out of range" in p.stderr
    import subprocess
    import sys

    code = ("import sys; sys.modules['torch'] = None\n"  # the runtime commands must not need torch
            "from styleforge.runtime.cli import main\n"
            f"rc = main(['latent', 'interpolate', {str(bundle)!r}, '--seeds', '1,2', '--steps', '5', '--slerp', "
            f"'--out', {str(tmp_path / 'i.png')!r}])\n"
            "assert 'torch' not in [k for k, v in sys.modules.items() if v is not None]\n"
            "sys.exit(rc)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    w, h = Image.open(tmp_path / "i.png").size
    assert w > 4 * h  # a strip of 5 frames
    run_cli("latent", "arithmetic", bundle, "--a", "1,2", "--b", "3", "--c", "4-6", "--out", tmp_path / "a.png", check=True)
    mask = np.zeros((8, 8), np.uint8)
    mask[:, :4] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    pgan = runs["pgan"][1]
    p = run_cli("latent", "dissect", pgan, "--layer", "block9", "--mask", tmp_path / "mask.png", "--out", tmp_path / "d")
    assert p.returncode == 2 and "block0, block1" in p.stderr
    run_cli("latent", "dissect", pgan, "--layer", "block1", "--mask", tmp_path / "mask.png", "--samples", 20,
            "--top", 3, "--boost", 2.0, "--out", tmp_path / "d", check=True)
    rep = json.loads((tmp_path / "d" / "units.json").read_text())
    assert len(rep["top_units"]) == 3 and (tmp_path / "d" / "before_after.png").is_file()


def test_latent_maths():
    from styleforge.runtime.latent import arithmetic_latent, interpolation_latents, slerp, unit_scores

    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, 16))
    for spherical in (False, True):
        path = interpolation_latents(z, 5, spherical=spherical)
        assert path.shape == (9, 16)                      # 5 frames per segment, the shared end counted once
        np.testing.assert_allclose(path[[0, 4, 8]], z, atol=1e-6)   # the ends reproduce the inputs exactly
    lin = interpolation_latents(z[:2], 5)
    np.testing.assert_allclose(lin[2], (z[0] + z[1]) / 2, atol=1e-6)                 # linear: the midpoint
    np.testing.assert_allclose(np.diff(lin, axis=0), np.diff(lin, axis=0)[:1].repeat(4, 0), atol=1e-6)  # even steps
    # slerp between unit vectors: stays on the circle, at constant angular speed
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    s = interpolation_latents(np.stack([a, b]), 5, spherical=True)
    np.testing.assert_allclose(np.linalg.norm(s, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.diff(np.arctan2(s[:, 1], s[:, 0])), np.pi / 8, atol=1e-6)
    np.testing.assert_allclose(slerp(z[0], z[0], 0.3), z[0])                           # equal ends: no NaN
    # arithmetic A − B + C of means is linear in the latents: shifts and scales carry through exactly
    za, zb, zc = rng.standard_normal((2, 16)), rng.standard_normal((3, 16)), rng.standard_normal((4, 16))
    r = arithmetic_latent(za, zb, zc)
    np.testing.assert_allclose(r, za.mean(0) - zb.mean(0) + zc.mean(0), atol=1e-6)
    d = rng.standard_normal(16)
    np.testing.assert_allclose(arithmetic_latent(za + d, zb, zc), r + d, atol=1e-5)   # A shifted: result shifted
    np.testing.assert_allclose(arithmetic_latent(za, zb + d, zc + d), r, atol=1e-5)   # B and C shifted alike: cancels
    np.testing.assert_allclose(arithmetic_latent(3 * za, 3 * zb, 3 * zc), 3 * r, atol=1e-5)
    np.testing.assert_allclose(arithmetic_latent(za, za, zc), zc.mean(0), atol=1e-6)  # A − A + C = C
    mask = np.zeros((4, 4), bool)
    mask[:2] = True
    acts = np.random.default_rng(0).random((10, 3, 4, 4))
    acts[:, 1] += 5 * mask  # unit 1 fires in the mask
    assert np.argmax(unit_scores(acts, mask)) == 1


def test_latent_tools_render_what_they_claim(runs):
    """Through a bundle: the interpolation strip starts and ends with the seeds' own images, and the arithmetic
    grid's result tile is the image of the latent A − B + C."""
    from styleforge.runtime.latent import _tiles, arithmetic, arithmetic_latent, interpolate
    from styleforge.runtime.model import load

    model = load(runs["dcgan"][1], backend="ort-cpu")
    strip = interpolate(model, [4, 9], steps=4)
    t = _tiles(model.generate_raw(model.latents([4, 9])))
    side = t[0].shape[0]
    assert np.array_equal(strip[2:2 + side, 2:2 + side], t[0])
    assert np.array_equal(strip[2:2 + side, -2 - side:-2], t[1])
    grid, _ = arithmetic(model, [1, 2], [3], [5, 6], variations=1)
    r = arithmetic_latent(model.latents([1, 2]), model.latents([3]), model.latents([5, 6]))
    want = _tiles(model.generate_raw(r[None]))[0]
    y = 2 + 3 * (side + 2)   # the fourth row: the result, then its variations
    assert np.array_equal(grid[y:y + side, 2:2 + side], want)


def test_generator_inputs_are_checked_in_one_line(runs):
    """Wrong-length labels and unit_scale are one clear error, not a numpy or ONNX Runtime traceback."""
    from styleforge.runtime.errors import StyleForgeError
    from styleforge.runtime.model import load

    cgan = load(runs["cgan"][1], backend="ort-cpu")
    z = cgan.sample_latents(3)
    assert cgan.generate_raw(z, [1, 2, 3]).shape[0] == 3 and cgan.generate_raw(z, 4).shape[0] == 3
    for labels, message in (([1, 2], "give one label or 3"), ([[1, 2, 3]], "one class index"),
                            (["a", "b", "c"], "one class index"), ([0.5, 1, 2], "one class index"),
                            ([1, 2, 99], "out of range")):
        with pytest.raises(StyleForgeError, match=message) as e:
            cgan.generate_raw(z, labels)
        assert "\n" not in str(e.value)
    with pytest.raises(StyleForgeError, match=r"expected shape \[N, 8\]"):
        cgan.generate_raw(np.zeros((2, 5), np.float32), [1, 2])
    dc = load(runs["dcgan"][1], backend="ort-cpu")
    layer = dc.dissect_layers[0]
    z = dc.sample_latents(2)
    assert dc.generate_dissect(z, layer.name, 0.5)[1].shape[1] == layer.channels     # one number: every channel
    for scale, message in ((np.ones(layer.channels + 1), "channels"), (np.ones((2, layer.channels)), "channels"),
                           ("x", "numbers"), (np.full(layer.channels, np.inf), "finite")):
        with pytest.raises(StyleForgeError, match=message):
            dc.generate_dissect(z, layer.name, scale)
    with pytest.raises(StyleForgeError, match="unconditional"):
        dc.generate_raw(z, [0, 1])


def test_eval_gan_labels_are_checked(runs, capsys):
    from styleforge.runtime.cli import main

    with pytest.raises(SystemExit) as e:  # argparse: usage + one error line, exit 2
        main(["eval", "gan", str(runs["cgan"][1]), "--labels", "x"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "expected comma-separated integers" in err and "Traceback" not in err
    assert main(["eval", "gan", str(runs["dcgan"][1]), "--labels", "1", "--n", "4"]) == 2
    err = capsys.readouterr().err
    assert "conditional" in err and err.count("\n") == 1
    assert main(["eval", "gan", str(runs["cgan"][1]), "--labels", "0,12", "--n", "4"]) == 2
    err = capsys.readouterr().err
    assert "12 is not a class" in err and err.count("\n") == 1


def test_frechet_distance():
    from scipy import linalg

    from styleforge.train.gan.frechet import feature_stats, frechet_distance, frechet_distance_features

    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 6)) @ rng.standard_normal((6, 6))
    assert frechet_distance_features(x, x) < 1e-6
    assert frechet_distance_features(x, x + 1.0) == pytest.approx(6.0, rel=1e-6)  # |shift|² = 6·1
    y = rng.standard_normal((400, 6)) * 2
    (m1, s1), (m2, s2) = feature_stats(x), feature_stats(y)
    ref = np.sum((m1 - m2) ** 2) + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(ref, rel=1e-6)


def test_eval_gan_offline(runs, tmp_path):
    from styleforge.train.gan.digit_classifier import save_classifier, train_classifier
    from styleforge.train.gan.evaluate import evaluate_bundle

    clf, acc = train_classifier(steps=5, batch=16)
    assert 0.0 <= acc <= 1.0
    save_classifier(clf, tmp_path / "clf.safetensors")
    r = evaluate_bundle(runs["cgan"][1], n=20, classifier=tmp_path / "clf.safetensors", labels=[0, 3])
    assert r["fd_digits"] > 0 and set(r["label_accuracy"]) == {"0", "3"}
    assert all(0 <= v <= 1 for v in r["label_accuracy"].values())


def test_inception_weights_layout(tmp_path):
    from safetensors.torch import save_file

    from styleforge.runtime.errors import StyleForgeError
    from styleforge.train.gan.inception import InceptionV3Features, load_inception

    sd = {k: v.clone() for k, v in InceptionV3Features().state_dict().items()}
    sd["fc.weight"] = sd["Conv2d_1a_3x3.bn.weight"][:1].clone()  # extra torchvision keys are ignored
    save_file(sd, str(tmp_path / "inc.safetensors"))
    m = load_inception(tmp_path / "inc.safetensors")
    assert float(m.Mixed_7c.branch_pool.bn.running_var.sum()) == float(sd["Mixed_7c.branch_pool.bn.running_var"].sum())
    del sd["Mixed_6e.branch1x1.conv.weight"]
    save_file(sd, str(tmp_path / "bad.safetensors"))
    with pytest.raises(StyleForgeError, match="not a torchvision inception_v3"):
        load_inception(tmp_path / "bad.safetensors")


def test_class_folder_data(tmp_path):
    from PIL import Image

    from styleforge.runtime.errors import StyleForgeError
    from styleforge.train.gan.data import GANData

    for k, name in enumerate(["cat", "dog"]):
        (tmp_path / name).mkdir()
        for i in range(2):
            Image.fromarray(np.full((12, 10, 3), 60 * (k + 1), np.uint8)).save(tmp_path / name / f"{i}.png")
    d = GANData(str(tmp_path), 8)
    assert d.classes == ["cat", "dog"] and d.x.shape == (4, 3, 8, 8) and list(d.y) == [0, 0, 1, 1]
    x, y = d.batch(5, 3)
    x2, y2 = d.batch(5, 3)
    assert (x == x2).all() and (y == y2).all()  # batches are a function of (seed, step)
    with pytest.raises(StyleForgeError, match="builtin:digits"):
        GANData("builtin:mnist", 8)


@pytest.mark.gpu
def test_train_on_cuda_and_export(tmp_path):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    from styleforge.export.core.api import export_checkpoint
    from styleforge.runtime.validation import validate_bundle

    for method in ("wgan-gp", "pgan", "cgan"):
        t, _ = _train(method, tmp_path / method, 2, device="cuda")
        assert next(t.g.parameters()).is_cuda and all(np.isfinite(v) for h in t.history for v in h.values())
        assert validate_bundle(export_checkpoint(tmp_path / method, tmp_path / f"{method}.sfbundle"), write_report=False)["passed"]


def test_pgan_checkpoint_before_the_last_growth_phase_exports(tmp_path, capsys):
    """Issue 14 #1: a 2-step 16-px Progressive GAN stops at level 1 (8×8, fading in): it exports upsampled to the
    final 16×16 (default) or at its native 8×8, validates, matches PyTorch, and the manifest says which."""
    import torch

    from styleforge.runtime.cli import main
    from styleforge.runtime.model import load
    from styleforge.train.core.checkpoint import load_modules

    run = tmp_path / "pg"
    assert main(["train", "gan", "--method", "pgan", "--out", str(run), "--steps", "2", "--resolution", "16",
                 "--width-mult", "0.25", "--batch", "2", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["export", str(run), "--out", str(tmp_path / "pg.sfbundle")]) == 0
    cap = capsys.readouterr()
    assert "trained to 8x8 of 16x16" in cap.err and "upsampled" in cap.err and "PASS" in cap.out
    assert main(["export", str(run), "--out", str(tmp_path / "pg8.sfbundle"), "--pgan-output", "native"]) == 0
    g = load_modules(run, attrs=["g_ema"])[0]["g_ema"].eval()
    z = np.random.default_rng(5).standard_normal((3, g.nz)).astype(np.float32)
    with torch.no_grad():
        low = ((g.synthesize(torch.from_numpy(z), full=False)[0].clamp(-1, 1) + 1) * 127.5).repeat(1, 3, 1, 1).numpy()
    for name, side in (("pg.sfbundle", 16), ("pg8.sfbundle", 8)):
        model = load(tmp_path / name, backend="ort-cpu")
        growth = model.config.growth
        assert (growth.level, growth.trained_side, growth.final_side) == (1, 8, 16) and growth.alpha == 0.0
        assert growth.output == ("final" if side == 16 else "native") and model.config.resolution == side
        assert [d.name for d in model.dissect_layers] == ["block0", "block1"]   # blocks grown so far
        got = model.generate_raw(z)
        assert got.shape == (3, 3, side, side)
        want = low.repeat(2, 2).repeat(2, 3) if side == 16 else low       # nearest ×2 of the trained 8×8
        assert np.abs(got - want).max() < 1e-2


def test_fixed_batch_generator_export_validates_and_runs(runs, tmp_path, capsys):
    """Issue 14 #4: --no-batch-dynamic traces at the golden cases' batch (1), so validation passes; the runtime
    feeds such a graph one latent at a time."""
    from styleforge.runtime.cli import main
    from styleforge.runtime.model import load

    run, dynamic = runs["cgan"]
    assert main(["export", str(run), "--out", str(tmp_path / "fixed.sfbundle"), "--no-batch-dynamic"]) == 0
    assert "PASS" in capsys.readouterr().out
    fixed = load(tmp_path / "fixed.sfbundle", backend="ort-cpu")
    assert fixed.manifest.graph("generate").input("z").shape[0] == 1 and fixed.fixed_batch("generate") == 1
    z, labels = fixed.sample_latents(5, seed=2), [0, 1, 2, 3, 4]
    np.testing.assert_allclose(fixed.generate_raw(z, labels), load(dynamic).generate_raw(z, labels), atol=1e-3)
    layer = fixed.dissect_layers[-1].name
    img, act = fixed.generate_dissect(z, layer, 0.5, labels)
    assert img.shape[0] == act.shape[0] == 5
