"""``tune``'s ``int8-ac`` variant on a tiny stylizer: it meets the floor it is given on the calibration images, keeps
convs float (named in its lineage and tune's row) when the floor is stricter than the recipe's int8 reaches, and a
floor no layout reaches (or a spent budget) is a reason, never a crash."""
from __future__ import annotations

import time

import pytest

pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from styleforge.runtime.errors import StyleForgeError  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")

SIDE = 48  # calibration images: tiny, like the bundle


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    """(fp32 clean-up, recipe int8, calibration images) of a tiny stylizer."""
    from styleforge.export.convert.api import convert_bundle
    from styleforge.export.convert.calibration import load_calibration
    from styleforge.export.core.api import export_checkpoint
    from styleforge.export.tune.measure import CALIBRATION
    from styleforge.train.stylizer.trainer import train_stylizer

    d = tmp_path_factory.mktemp("ac")
    ckpt = train_stylizer(["sample:mosaic"], d / "run", steps=2, size=32, batch=1, width_mult=0.125, progress=False)
    tiny = export_checkpoint(ckpt, d / "tiny.sfbundle")
    fp32, _ = convert_bundle(tiny, d / "fp32.sfbundle", validate=False)
    int8, _ = convert_bundle(tiny, d / "int8.sfbundle", precision="int8", calibration=list(CALIBRATION),
                             calibration_size=SIDE, validate=False)
    images, _ = load_calibration(list(CALIBRATION), SIDE)
    return tiny, fp32, int8, images


@pytest.fixture(scope="module")
def recipe_psnr(variants, tmp_path_factory):
    """The recipe's int8 PSNR on the calibration images and the same with every candidate conv float."""
    from styleforge.export.tune.accuracy_control import _prepare, _quantise
    from styleforge.runtime.bundle import open_bundle

    tiny, fp32, _, images = variants
    g = _prepare(open_bundle(tiny), open_bundle(fp32), "stylize", images, [], tmp_path_factory.mktemp("cache"))
    return _quantise(g, ())[1], _quantise(g, tuple(g.candidates()))[1], g.candidates()


def _calibration_psnr(bundle_path, fp32_path, images) -> float:
    """Worst PSNR of the bundle's stylize graph against the fp32 one on the calibration images (ONNX Runtime)."""
    from styleforge.export.convert.calibration import calibration_feeds
    from styleforge.export.tune.accuracy_control import _psnr, _run
    from styleforge.runtime.bundle import open_bundle

    b, f = open_bundle(bundle_path), open_bundle(fp32_path)
    feeds = calibration_feeds(f, "stylize", images)
    lo, hi = f.graph("stylize").outputs[0].range
    got = _run(onnx.load(str(b.file(b.graph("stylize").file))), feeds)
    ref = _run(onnx.load(str(f.file(f.graph("stylize").file))), feeds)
    return min(_psnr(a[0], r[0], lo, hi) for a, r in zip(got, ref))


def test_a_strict_floor_keeps_convs_float_and_is_met(variants, recipe_psnr, tmp_path):
    from styleforge.export.tune.accuracy_control import accuracy_controlled_int8, kept_float_note
    from styleforge.runtime.bundle import open_bundle

    tiny, fp32, int8, images = variants
    recipe, all_float, convs = recipe_psnr
    assert all_float > recipe + 0.2, "the tiny net must leave room between the recipe and all-float"
    floor = (recipe + all_float) / 2  # stricter than the recipe reaches, reachable with convs float
    lines: list[str] = []
    out = accuracy_controlled_int8(tiny, fp32, int8, tmp_path / "ac.sfbundle", images, floor,
                                   time.monotonic() + 600, lines.append, margin_db=0.0, checks=())
    b = open_bundle(out)  # hashes and manifest checked
    ac = b.manifest.lineage.conversion.options["accuracy_control"]
    kept = ac["kept_float"]["stylize"]
    assert b.manifest.precision == "int8" and b.manifest.lineage.conversion.options["int8_method"] == "accuracy-control"
    assert 1 <= len(kept) <= len(convs) and set(kept) <= set(convs)
    assert _calibration_psnr(out, fp32, images) >= floor  # measured again, independently of the search
    assert ac["check_psnr_db"]["stylize"] >= floor
    assert all(k in b.manifest.lineage.conversion.passes["stylize"][-1] for k in kept)
    assert kept[0] in kept_float_note(out) and kept_float_note(int8) == ""
    assert any("ETA" in ln for ln in lines)
    graph = onnx.load(str(b.file(b.graph("stylize").file)))
    assert "QuantizeLinear" in {n.op_type for n in graph.graph.node}  # still an int8 graph


def test_the_search_starts_from_the_int8_variants_graph(variants, tmp_path):
    """With nothing more kept float the search quantises what convert's int8 wrote (same passes, same recipe)."""
    from styleforge.export.tune.accuracy_control import _prepare, _quantise
    from styleforge.runtime.bundle import open_bundle

    tiny, fp32, int8, images = variants
    g = _prepare(open_bundle(tiny), open_bundle(fp32), "stylize", images, [], tmp_path)
    b = open_bundle(int8)
    written = onnx.load(str(b.file(b.graph("stylize").file)))
    assert [n.op_type for n in _quantise(g, ())[0].graph.node] == [n.op_type for n in written.graph.node]


def test_a_floor_the_recipe_meets_is_the_int8_variant_itself(variants, recipe_psnr, tmp_path):
    from styleforge.export.tune.accuracy_control import accuracy_controlled_int8

    tiny, fp32, int8, images = variants
    with pytest.raises(StyleForgeError, match="the int8 rows are this variant"):
        accuracy_controlled_int8(tiny, fp32, int8, tmp_path / "ac.sfbundle", images, recipe_psnr[0] - 1,
                                 time.monotonic() + 600, lambda m: None, margin_db=0.0, checks=())
    assert not (tmp_path / "ac.sfbundle").exists()


def test_unreachable_floor_and_spent_budget_are_reasons(variants, recipe_psnr, tmp_path):
    from styleforge.export.tune.accuracy_control import accuracy_controlled_int8

    tiny, fp32, int8, images = variants
    with pytest.raises(StyleForgeError, match="no layout reaches"):
        accuracy_controlled_int8(tiny, fp32, int8, tmp_path / "a.sfbundle", images, recipe_psnr[1] + 5,
                                 time.monotonic() + 600, lambda m: None, margin_db=0.0, checks=())
    with pytest.raises(StyleForgeError, match="budget"):
        accuracy_controlled_int8(tiny, fp32, int8, tmp_path / "b.sfbundle", images, recipe_psnr[1] + 5,
                                 time.monotonic() - 1, lambda m: None, margin_db=0.0, checks=())
    assert not (tmp_path / "a.sfbundle").exists() and not (tmp_path / "b.sfbundle").exists()


def test_tune_lists_an_unreachable_floor_as_a_row_with_its_reason(variants, recipe_psnr, tmp_path):
    """Through tune's variant step and scoring: the int8-ac row says why, the fp32 rows are still measured."""
    from styleforge.export.tune.api import _Search, _variants
    from styleforge.export.tune.candidates import candidates

    tiny = variants[0]
    floor = recipe_psnr[1] + 5
    paths = _variants(tiny, tmp_path, (("fp32", None), ("int8", None), ("int8", "ac")), lambda m: None,
                      calibration_size=SIDE, min_psnr=floor, deadline=time.monotonic() + 600)
    assert isinstance(paths["int8-ac"], str) and "no layout reaches" in paths["int8-ac"]
    search = _Search(tiny, 600, lambda m: None)
    cands = candidates(["ort-cpu"], 1, (("fp32", None), ("int8", "ac")))
    for i, c in enumerate(cands):
        search.score(i, c, paths.get(c.variant, "variant not made"), [], [], floor)
    ac_rows = [r for r in search.rows.values() if r.precision == "int8-ac"]
    assert ac_rows and all("no layout reaches" in r.note and r.psnr is None and not r.meets_floor for r in ac_rows)


def test_ac_is_one_of_tunes_variants_and_its_check_images_are_never_held_out():
    from styleforge.export.tune import measure
    from styleforge.export.tune.accuracy_control import CHECK_IMAGES
    from styleforge.export.tune.candidates import VARIANTS

    assert ("int8", "ac") in VARIANTS
    held_out = set(measure.HELD_OUT) | set(getattr(measure, "HELD_OUT_STYLES", ()))
    assert CHECK_IMAGES and not set(CHECK_IMAGES) & (held_out | set(measure.CALIBRATION))


def test_check_sizes_cover_the_golden_cases(variants):
    from styleforge.export.tune.accuracy_control import check_sizes
    from styleforge.export.tune.measure import PHOTO_SIDE
    from styleforge.runtime.bundle import open_bundle

    b = open_bundle(variants[1])
    sizes = check_sizes(b, "stylize", SIDE)
    golden = {b.golden_arrays(c)[0][b.graph("stylize").inputs[0].name].shape[2:4] for c in b.manifest.golden}
    assert (SIDE, SIDE) in sizes and (PHOTO_SIDE, PHOTO_SIDE) in sizes and golden <= set(sizes)
