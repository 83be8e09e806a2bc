"""Feature-space optimisation: inversion, texture, Gatys sweep, DFI, the shared loop and the CLI.

Tiny images (32–48 px), VGG16 cut after relu3_1 at most (the VGG class truncates after the
deepest requested layer), random(seed=0) weights, a few L-BFGS steps.
"""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from styleforge.runtime.cli import main  # noqa: E402
from styleforge.train.optimize.methods import (LoopOptions, dfi, invert, make_vgg, resize_image, stylize,  # noqa: E402
                                               sweep, texture, to_tensor)
from styleforge.train.optimize.faces import (ATTRIBUTES, attribute_probe, make_dataset, probe_face,  # noqa: E402
                                             read_attributes, write_dataset)
from styleforge.train.core.samples import resolve_image  # noqa: E402
from styleforge.train.core.vgg import content_loss  # noqa: E402

SHALLOW = ["relu1_1", "relu2_1", "relu3_1"]


def _opts(**kw):
    kw.setdefault("progress", False)
    kw.setdefault("arch", "vgg16")
    return LoopOptions(**kw)


@pytest.fixture(scope="module")
def chelsea():
    return resolve_image("sample:chelsea", max_side=64)


@pytest.fixture(scope="module")
def mosaic():
    return resolve_image("sample:mosaic", max_side=64)


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def test_inversion_from_shallowest_layer_reaches_30db(chelsea):
    """relu1_1 is 64 ReLU'd 3×3 filters of the full-resolution image: 64 half-rectified views of 3
    channels, so the map is (almost everywhere) injective and inverting it is limited only by the
    optimiser. 30 dB (RMS error 8/255, ~3 %) is the usual 'visually indistinguishable' level; from
    white noise (PSNR ~8 dB) 20 L-BFGS steps reach it (measured: > 40 dB)."""
    img = resize_image(chelsea, 32)
    r = invert(img, "relu1_1", size=32, opts=_opts(steps=20))
    assert r.image.shape == img.shape
    assert psnr(np.random.default_rng(0).integers(0, 256, img.shape), img) < 12  # the start is far away
    assert psnr(r.image, img) > 30.0
    assert r.loss_network == "vgg16 random(seed=0)"


def test_texture_synthesis_lowers_gram_loss_by_10x(mosaic):
    # measured: ×23 after 8 L-BFGS steps from white noise
    r = texture(mosaic, size=32, layers=SHALLOW, opts=_opts(steps=8))
    first = r.history[0]["style"]
    assert set(r.history[0]) == {"step", "scale", "style", "total"}
    assert r.final["style"] * 10 < first, (first, r.final)
    assert r.image.shape == (32, 32, 3)


def test_sweep_distance_to_content_grows_with_style_weight(chelsea, mosaic):
    weights = [1e2, 1e4, 1e6]
    sheet, results = sweep(chelsea, mosaic, weights, size=32, opts=_opts(steps=4), style_layers=SHALLOW,
                           content_layer="relu3_1")
    vgg = make_vgg(["relu3_1"], _opts())
    with torch.no_grad():
        ref = vgg(to_tensor(resize_image(chelsea, 32)))["relu3_1"]
        dist = [float(content_loss(vgg(r.tensor)["relu3_1"], ref)) for r in results]
    assert all(a < b for a, b in zip(dist, dist[1:])), dist
    assert sheet.shape[0] > 2 * 32 and sheet.shape[1] >= 3 * 32  # two rows, three columns at least


def test_dfi_moves_attribute_probe_in_the_intended_direction():
    images, attrs = make_dataset(32, 48)
    labels = [a["glasses"] for a in attrs]
    assert 0 < sum(labels) < len(labels)
    face = probe_face(48)  # no glasses, not in the dataset
    r = dfi(face, images, labels, strengths=[-1.0, 1.0], k=6, size=48, layers=["relu2_1", "relu3_1"],
            opts=_opts(steps=10))
    p0 = attribute_probe(face, "glasses")
    p_minus, p_plus = (attribute_probe(x.image, "glasses") for x in r.results)
    assert p_plus > p0 + 0.03, (p0, p_plus)  # adding glasses darkens the eye band (measured +0.04; real frames: ~+0.14)
    assert p_minus < p0 + 0.01, (p0, p_minus)  # the opposite strength does not add them
    assert all(labels[i] == 1 for i in r.neighbours_with) and all(labels[i] == 0 for i in r.neighbours_without)
    assert r.row.shape[1] > 3 * 48


def test_preserve_color_luminance_keeps_content_chroma(chelsea, mosaic):
    from styleforge.runtime.color_transfer import rgb_to_yiq

    r = stylize(chelsea, mosaic, size=32, opts=_opts(steps=1), style_layers=SHALLOW, content_layer="relu2_1",
                preserve_color="luminance")
    c = resize_image(chelsea, 32)
    diff = np.abs(rgb_to_yiq(r.image / 255.0)[..., 1:] - rgb_to_yiq(c / 255.0)[..., 1:])
    assert diff.mean() < 0.01


def test_faces_csv_round_trip_and_errors(tmp_path):
    csv_path = write_dataset(tmp_path / "faces", n=4, size=24)
    assert csv_path.read_text().splitlines()[0] == "file," + ",".join(ATTRIBUTES)
    paths, labels = read_attributes(csv_path, "moustache")
    assert len(paths) == 4 and all(p.is_file() for p in paths) and set(labels) <= {0, 1}
    assert np.array_equal(make_dataset(4, 24)[0][2], make_dataset(4, 24)[0][2])  # deterministic
    (tmp_path / "bad.csv").write_text("file,glasses\na.png,maybe\n")
    from styleforge.runtime.errors import StyleForgeError

    with pytest.raises(StyleForgeError, match="bad.csv:2"):
        read_attributes(tmp_path / "bad.csv", "glasses")
    with pytest.raises(StyleForgeError, match="no attribute column 'hat'"):
        read_attributes(csv_path, "hat")


# ---------------------------------------------------------------------------------------------
# CLI (in-process: torch is already imported, so each command costs only its few steps)
# ---------------------------------------------------------------------------------------------
TINY = ["--steps", "2", "--size", "32", "--arch", "vgg16", "--quiet"]


def _run(capsys, *args):
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_invert_log_json_pyramid_and_snapshots(tmp_path, capsys):
    log, out = tmp_path / "log.jsonl", tmp_path / "inv.png"
    rc, so, err = _run(capsys, "optimize", "invert", "sample:chelsea", "--layer", "relu1_1", *TINY,
                       "--scales", "16,32", "--log-json", log, "--snapshot-every", "2", "--out", out)
    assert rc == 0, err
    assert out.is_file() and json.loads(so.strip().splitlines()[-1])["loss_network"] == "vgg16 random(seed=0)"
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2, 3, 4]
    assert [r["scale"] for r in recs] == [16, 16, 32, 32]
    for r in recs:
        assert set(r) == {"step", "scale", "content", "tv", "total"}
        assert r["total"] == pytest.approx(r["content"] + r["tv"], rel=1e-6)
    snaps = sorted(p.name for p in (tmp_path / "inv_snapshots").iterdir())
    assert snaps == ["step-000002.png", "step-000004.png"]


def test_cli_texture_stylize_sweep_dfi_smoke(tmp_path, capsys):
    rc, _, err = _run(capsys, "optimize", "texture", "--style", "sample:mosaic", "--layers", "relu1_1,relu2_1",
                      *TINY, "--optimizer", "adam", "--out", tmp_path / "t.png")
    assert rc == 0, err
    rc, _, err = _run(capsys, "optimize", "stylize", "sample:chelsea", "--style", "sample:mosaic", "--style",
                      "sample:waves", "--style-blend", "0.7,0.3", "--style-layers", "relu1_1,relu2_1",
                      "--content-layer", "relu2_1", "--preserve-color", "histogram", *TINY,
                      "--log-json", tmp_path / "s.jsonl", "--out", tmp_path / "s.png")
    assert rc == 0, err
    rec = json.loads((tmp_path / "s.jsonl").read_text().splitlines()[0])
    assert set(rec) == {"step", "scale", "content", "style", "total"}
    rc, sweep_out, err = _run(capsys, "optimize", "sweep", "sample:chelsea", "--style", "sample:mosaic",
                              "--style-weights", "1e2,1e4", "--style-layers", "relu1_1", "--content-layer", "relu1_1",
                              *TINY, "--out", tmp_path / "sw.png")
    assert rc == 0, err
    rc, so, err = _run(capsys, "optimize", "dfi", "--count", "8", "--k", "2", "--layers", "relu1_1,relu2_1",
                       "--strength=-1,1", *TINY, "--out", tmp_path / "d.png")
    assert rc == 0, err
    assert json.loads(so.strip().splitlines()[-1])["strengths"] == [-1.0, 1.0]
    from styleforge.runtime.color_transfer import lab_stats
    from styleforge.runtime.images import load_image

    tex = load_image(tmp_path / "t.png")
    assert tex.shape == (32, 32, 3) and tex.std() > 10                      # --size, and a texture, not a flat fill
    styl = load_image(tmp_path / "s.png")
    content = resize_image(resolve_image("sample:chelsea"), 32)
    assert styl.shape == content.shape                                      # the content's aspect at --size
    (m_out, s_out), (m_c, s_c) = lab_stats(styl / 255.0), lab_stats(content / 255.0)
    assert np.abs(m_out - m_c).max() < 2.0 and np.abs(s_out - s_c).max() < 2.0   # histogram: content's colours
    log = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2] and log[-1]["total"] < log[0]["total"]
    low, high = json.loads(sweep_out.strip().splitlines()[-1])["final"]
    assert high["content"] > 10 * low["content"]                           # more style weight: further from content
    assert load_image(tmp_path / "sw.png").std() > 10
    row = load_image(tmp_path / "d.png")
    face, minus, plus = (row[2:34, 2 + 34 * k: 34 + 34 * k].astype(float) for k in range(3))
    assert row.shape == (36, 3 * 32 + 4 * 2, 3)                             # the probe face, then one per strength
    # opposite strengths move the face in opposite directions: they differ more from each other than from it
    assert np.abs(minus - plus).mean() > max(np.abs(face - minus).mean(), np.abs(face - plus).mean()) > 1.0


def test_cli_dfi_with_a_dataset_folder(tmp_path, capsys):
    write_dataset(tmp_path / "faces", n=6, size=32)
    rc, _, err = _run(capsys, "optimize", "dfi", "--dataset", tmp_path / "faces", "--image",
                      tmp_path / "faces" / "face_0000.png", "--attribute", "moustache", "--k", "2",
                      "--layers", "relu1_1", "--strength", "1", *TINY, "--out", tmp_path / "d.png")
    assert rc == 0, err


@pytest.mark.parametrize("args,message", [
    (["invert", "missing.png", "--out", "o.png"], "missing.png: no such file"),
    (["invert", "sample:nope", "--out", "o.png"], "unknown sample image 'nope'"),
    (["invert", "sample:chelsea", "--layer", "relu9_9", "--out", "o.png"], "no layer(s) relu9_9"),
    (["invert", "sample:chelsea", "--out", "o.txt"], "unsupported output format"),
    (["invert", "sample:chelsea", "--scales", "64", "--out", "o.png"], "larger than the output's long side"),
    (["stylize", "sample:chelsea", "--style", "sample:mosaic", "--style-blend", "1,1", "--out", "o.png"],
     "--style-blend has 2 weights for 1 style"),
    (["texture", "--style", "sample:mosaic", "--init", "content", "--out", "o.png"], "texture synthesis starts from noise"),
    (["dfi", "--attribute", "hat", "--out", "o.png"], "synthetic dataset has glasses"),
    (["dfi", "--dataset", "nowhere", "--image", "x.png", "--out", "o.png"], "no such"),
    (["stylize", "sample:chelsea", "--style", "sample:mosaic", "--size", "4", "--out", "o.png"], "too small"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    extra = [] if "--size" in args else ["--size", "32"]
    rc, _, err = _run(capsys, "optimize", *args, "--steps", "1", "--arch", "vgg16", "--quiet", *extra)
    assert rc == 2
    lines = [line for line in err.strip().splitlines() if not line.startswith("styleforge: warning")]
    assert len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "o.png").exists()
