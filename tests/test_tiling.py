"""Images of any size in tiles (export/tiling/, runtime/tiling.py): the seam check — tiled against untiled on an
image small enough for both — for each statistics mode, the receptive-field margin, the CLI wiring (--tile,
--exact-stats, the automatic threshold) and `styleforge tiling add` on a bundle made without tiling graphs."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from PIL import Image  # noqa: E402

from helpers import torch_threads  # noqa: E402
from toy_bundles import write_norm_translator  # noqa: E402

TILE, OVERLAP = 64, 16


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from styleforge.export.core.api import export_checkpoint
    from styleforge.train.stylizer.trainer import train_stylizer

    d = tmp_path_factory.mktemp("tiling")
    with torch_threads(1):
        ckpt = train_stylizer(["sample:mosaic", "sample:waves"], d / "run", steps=1, size=32, batch=2, width_mult=0.125,
                              progress=False)
    return export_checkpoint(ckpt, d / "tiny.sfbundle")


@pytest.fixture(scope="module")
def photo():
    from styleforge.train.core.samples import resolve_image

    return np.asarray(Image.fromarray(resolve_image("sample:astronaut")).resize((203, 187), Image.Resampling.LANCZOS))


def _diff(a, b):
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return d.max(), d.mean()


def _seam_bands(shape, starts_y, starts_x, band=6):
    """Mask of the pixels within `band` of a tile boundary (where seams would show)."""
    mask = np.zeros(shape[:2], bool)
    for y in starts_y[1:]:
        mask[max(0, y - band):y + OVERLAP + band] = True
    for x in starts_x[1:]:
        mask[:, max(0, x - band):x + OVERLAP + band] = True
    return mask


def test_manifest_records_the_tiling_graphs_and_margin(bundle):
    from styleforge.runtime.bundle import open_bundle

    b = open_bundle(bundle)
    spec = b.manifest.tiling_for("stylize")
    assert (spec.stats_role, spec.tiled_role, spec.probe_role) == ("stylize.stats", "stylize.tiled", "stylize.probe")
    assert spec.norm_layers == 15 and spec.align == 4
    assert spec.receptive_radius == 54  # transformer_net: 9x9 + 3x3 convs, two stride-2 stages, 5 residual blocks
    assert spec.margin >= spec.receptive_radius and spec.margin % 4 == 0


def test_seam_check_tiled_equals_untiled(bundle, photo):
    """Full-resolution statistics (the budget covers the image): tiling adds nothing but uint8 rounding flips,
    at tile boundaries no more than inside tiles."""
    from styleforge.runtime import load
    from styleforge.runtime.tiling import tile_starts

    model = load(bundle, backend="ort-cpu")
    untiled = model(photo, style_index=1)
    tiled = model.stylize_tiled(photo, style_index=1, tile=TILE, overlap=OVERLAP, stats_pixels=10**6)
    mx, mean = _diff(tiled, untiled)
    assert mx <= 1 and mean < 1e-3, (mx, mean)
    bands = _seam_bands(photo.shape, tile_starts(187, TILE, OVERLAP, 4), tile_starts(203, TILE, OVERLAP, 4))
    d = np.abs(tiled.astype(int) - untiled.astype(int)).max(-1)
    assert bands.any() and (~bands).any() and d[bands].max() <= 1


def test_exact_stats_from_a_small_budget(bundle, photo):
    from styleforge.runtime import load

    model = load(bundle, backend="ort-cpu")
    untiled = model(photo, style_index=0)
    exact = model.stylize_tiled(photo, style_index=0, tile=128, overlap=OVERLAP, stats_pixels=48 * 48, exact_stats=True)
    mx, mean = _diff(exact, untiled)
    assert mx <= 1 and mean < 1e-2, (mx, mean)


def test_downscaled_statistics_make_tiles_agree_but_change_the_look(bundle, photo):
    """With statistics from a 4x-smaller pass the tiles still agree exactly with an untiled run that uses the same
    statistics (no seams); against native instance norm the picture differs (scale-dependent statistics)."""
    from styleforge.runtime import load

    model = load(bundle, backend="ort-cpu")
    runner = model.tiled("stylize", tile=TILE, overlap=OVERLAP, stats_pixels=photo.shape[0] * photo.shape[1] // 16)
    feeds = {"style_index": np.array([1])}
    stats = runner.downscaled_stats(photo, feeds)
    tiled = runner.run_tiles(photo, feeds, stats, out_float=True)
    whole = runner._sessions["stylize.tiled"].run({"image": runner._encode(photo)[0], **feeds, **stats})["stylized"]
    whole = whole[0, :, :photo.shape[0], :photo.shape[1]].transpose(1, 2, 0)
    assert _diff(tiled, whole)[0] < 1e-2
    assert _diff(np.clip(np.rint(tiled), 0, 255), model(photo, style_index=1))[1] > 0.5


def test_cli_tile_flag_and_automatic_threshold(bundle, photo, tmp_path, monkeypatch):
    from styleforge.runtime import tiling
    from styleforge.runtime.cli import main

    src = tmp_path / "in.png"
    Image.fromarray(photo).save(src)
    assert main(["stylize", str(bundle), str(src), "--out", str(tmp_path / "whole.png")]) == 0
    assert main(["stylize", str(bundle), str(src), "--out", str(tmp_path / "tiled.png"), "--tile", str(TILE)]) == 0
    whole, tiled = (np.asarray(Image.open(tmp_path / n)) for n in ("whole.png", "tiled.png"))
    assert _diff(tiled, whole)[0] <= 1
    calls = []
    real = tiling.TiledRunner.__call__
    monkeypatch.setattr(tiling.TiledRunner, "__call__", lambda self, *a, **k: calls.append(self.tile) or real(self, *a, **k))
    monkeypatch.setattr(tiling, "AUTO_TILE_PIXELS", 100 * 100)
    assert main(["stylize", str(bundle), str(src), "--out", str(tmp_path / "auto.png")]) == 0
    assert calls == [512]


def test_tiling_add_to_an_older_bundle_and_translate(tmp_path, photo, capsys):
    from styleforge.runtime import load
    from styleforge.runtime.cli import main

    b = write_norm_translator(tmp_path / "old.sfbundle")
    src = tmp_path / "in.png"
    Image.fromarray(photo).save(src)
    assert main(["translate", str(b), str(src), "--out", str(tmp_path / "x.png"), "--tile", "32"]) == 2
    assert "styleforge tiling add" in capsys.readouterr().err
    assert main(["tiling", "add", str(b)]) == 0
    spec = load(b).manifest.tiling_for("translate")  # loads with every file's sha256 checked
    assert spec.receptive_radius == 2 and spec.norm_layers == 1
    assert main(["translate", str(b), str(src), "--out", str(tmp_path / "t.png"), "--tile", "32"]) == 0
    tiled = np.asarray(Image.open(tmp_path / "t.png"))
    assert _diff(tiled, load(b, backend="ort-cpu")(photo))[0] <= 1


def test_manifest_tiling_field_is_checked_and_optional(bundle):
    import json

    from styleforge.runtime.errors import BundleError
    from styleforge.runtime.manifest import parse_manifest

    data = json.loads((bundle / "manifest.json").read_text())
    older = {k: v for k, v in data.items() if k != "tiling"}  # bundles written before the field: no tiling
    assert parse_manifest(json.loads(json.dumps(older))).tiling == []
    data["tiling"][0]["tiled_role"] = "stylize.nope"
    with pytest.raises(BundleError, match="stylize.nope"):
        parse_manifest(data)


def test_server_runs_large_images_in_tiles_alone(tmp_path, photo, monkeypatch):
    pytest.importorskip("fastapi")
    from styleforge.export.tiling.commands import add_tiling_to_bundle
    from styleforge.runtime import tiling
    from styleforge.runtime.serve.config import ServeConfig
    from styleforge.runtime.serve.served import ServedModel

    b = write_norm_translator(tmp_path / "t.sfbundle")
    assert add_tiling_to_bundle(b) == ["translate"]
    sm = ServedModel("t", b, ServeConfig(backend="ort-cpu"))
    payload = {"image": photo, "reverse": False}
    assert not sm.alone(payload)
    monkeypatch.setattr(tiling, "AUTO_TILE_PIXELS", 64 * 64)
    assert sm.alone(payload) and sm.tiled(payload)
    out = sm.run_batch(None, [payload])[0]
    assert _diff(out, sm.model(photo))[0] <= 1
    assert len(sm.model._tiled) == 1  # the tiled runner (and its sessions) is made once and reused


def _norm_graph_normalised_input() -> bytes:
    """float32 N×3×H×W ImageNet-normalised → [0, 1]: conv, InstanceNormalization, relu, conv, + input, sigmoid (an
    imported graph whose input needs mean/std; onnx.helper only)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(11)
    w = lambda *s: (rng.standard_normal(s) * 0.3).astype(np.float32)  # noqa: E731
    inits = [numpy_helper.from_array(a, n) for n, a in (("w1", w(4, 3, 3, 3)), ("s", np.ones(4, np.float32)),
                                                          ("b", np.zeros(4, np.float32)), ("w2", w(3, 4, 3, 3)))]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("InstanceNormalization", ["c1", "s", "b"], ["n1"], epsilon=1e-5),
             helper.make_node("Relu", ["n1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c2", "x"], ["a"]),
             helper.make_node("Sigmoid", ["a"], ["y"])]
    f = TensorProto.FLOAT
    graph = helper.make_graph(nodes, "normed", [helper.make_tensor_value_info("x", f, ["n", 3, "h", "w"])],
                              [helper.make_tensor_value_info("y", f, ["n", 3, "h", "w"])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_tiling_graphs_keep_the_input_normalisation(tmp_path, photo):
    """An imported graph with --normalize imagenet: its tiling graphs carry the image input's mean/std, so a tiled
    run (full-resolution statistics) equals the untiled run within the tiling tolerance above (1 grey level)."""
    from styleforge.export.onnx_import.api import import_onnx
    from styleforge.export.tiling.commands import add_tiling_to_bundle
    from styleforge.runtime import load

    (tmp_path / "n.onnx").write_bytes(_norm_graph_normalised_input())
    b, rep = import_onnx(tmp_path / "n.onnx", tmp_path / "n.sfbundle", interface="stylizer", value_range="0,1",
                         normalize="imagenet")
    assert rep["passed"]
    if not load(b).manifest.tiling:
        assert add_tiling_to_bundle(b) == ["stylize"]
    m = load(b, backend="ort-cpu", threads=1)
    t = m.manifest.tiling_for("stylize")
    src = m.manifest.graph("stylize").input("image")
    assert src.mean and src.std
    for role in (t.stats_role, t.tiled_role, t.probe_role):
        spec = m.manifest.graph(role).input("image")
        assert (spec.mean, spec.std) == (src.mean, src.std), role
    img = photo[:96, :128]
    tiled = m.stylize_tiled(img, tile=TILE, overlap=OVERLAP, stats_pixels=10**6)
    mx, mean = _diff(tiled, m(img))
    assert mx <= 1 and mean < 1e-2, (mx, mean)
