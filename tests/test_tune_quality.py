"""``tune``'s quality set and verdict: a style interface is scored on texture styles and on the inputs tune times at
each size; a candidate fine on photos but degraded on one texture is rejected, and the record names where its worst
case was; that field is checked and round-trips through the manifest, and a manifest written before it still reads.
Torch-free (fake models, a toy bundle of hand-written graphs)."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("skimage", reason="the held-out photos and textures are scikit-image's samples")

from styleforge.export.tune import measure  # noqa: E402
from styleforge.runtime.errors import BundleError  # noqa: E402


def _manifest(interface: str):
    return SimpleNamespace(model=SimpleNamespace(interface=interface))


def test_style_interfaces_are_scored_on_textures_and_the_timed_sizes():
    cases = measure.quality_cases(_manifest("wct"), [(32, 32), (48, 64), (32, 32), (2048, 1024)])
    wheres = [c.where for c in cases]
    held = [w for w in wheres if w.startswith("held-out")]
    for style in ("mosaic", "waves", "brick", "rocket", "chelsea"):
        assert any(f"+ {style} style" in w for w in held), (style, held)
    calibration = [c.removeprefix("sample:") for c in measure.CALIBRATION]
    assert not any(name in w for w in held for name in calibration)  # held out = never a calibration image
    bench = [w for w in wheres if w.startswith("bench")]
    # each tuned size once, the bench style with it; a size above the cap scaled down, aspect kept
    assert bench == ["bench picture + mosaic style at 32x32", "bench picture + mosaic style at 48x64",
                     "bench picture + mosaic style at 1024x512"]
    assert [w for w in wheres if w.startswith("held-out")] == wheres[:5]


def test_image_interfaces_get_photos_and_the_bench_picture_without_styles():
    wheres = [c.where for c in measure.quality_cases(_manifest("stylizer"), [(16, 24)])]
    assert len(wheres) == 3 and wheres[-1] == "bench picture at 16x24"
    assert not any("style" in w for w in wheres)


class FakeWCT:
    """A WCT-shaped model (its call and its bench call) whose output is the content shifted by the style's mean; with
    `bad` (a picture), outputs whose style or content is that picture are off by noise (a decoder that some inputs
    drive out of range)."""

    def __init__(self, bad=None):
        self.bad = bad

    def __call__(self, content, style=None, alpha=None):
        return self.stylize_array(content, self.style_stats(style), self._alpha(alpha))

    def style_stats(self, style):
        return np.asarray(style)

    def _alpha(self, alpha):
        return 1.0 if alpha is None else alpha

    def stylize_array(self, content, style, alpha):
        out = np.clip(content.astype(np.float64) * 0.5 + style.mean() * 0.5, 0, 255)
        if self.bad is not None and any(np.array_equal(a, self.bad) for a in (style, content)):
            out = np.clip(out + np.random.default_rng(0).normal(0, 40, out.shape), 0, 255)
        return out.astype(np.uint8)


def _score(monkeypatch, tmp_path, model, min_psnr=40.0):
    import styleforge.runtime.model as runtime_model
    from styleforge.export.tune import api
    from styleforge.export.tune.candidates import Candidate

    monkeypatch.setattr(api, "golden_psnr", lambda path, runner, options: (60.0, "golden case g (image)"))
    monkeypatch.setattr(runtime_model, "load", lambda path, backend, **options: model)
    cases = measure.quality_cases(_manifest("wct"), [(24, 24)])
    refs = [c.run(FakeWCT()) for c in cases]
    search = api._Search(tmp_path, 60.0, lambda msg: None)
    search.score(0, Candidate("int8", None, "ort-cpu"), tmp_path, cases, refs, min_psnr)
    return search


def test_a_candidate_degraded_on_one_texture_style_is_rejected(monkeypatch, tmp_path):
    from styleforge.train.core.samples import resolve_image

    fine = _score(monkeypatch, tmp_path, FakeWCT())
    assert fine.rows[0].meets_floor and 0 in fine.models and fine.rows[0].worst == "golden case g (image)"
    waves = resolve_image("sample:waves", max_side=measure.PHOTO_SIDE)
    bad = _score(monkeypatch, tmp_path, FakeWCT(bad=waves))
    row = bad.rows[0]
    assert not row.meets_floor and 0 not in bad.models and row.psnr < 25
    assert row.worst.startswith("held-out") and "+ waves style" in row.worst
    assert "below the 40 dB floor" in row.note


def test_the_bench_inputs_count_too(monkeypatch, tmp_path):
    """Fine on every held-out pair, degraded on the timed input (the bench picture at the tuned size)."""
    from styleforge.runtime.latency import bench_case_inputs

    picture = bench_case_inputs("wct", (24, 24))["image"]
    row = _score(monkeypatch, tmp_path, FakeWCT(bad=picture)).rows[0]
    assert not row.meets_floor and row.worst == "bench picture + mosaic style at 24x24"


def _tuned_toy(tmp_path, worst="bench picture + mosaic style at 512x512", psnr=41.5):
    pytest.importorskip("onnx", reason="the toy bundle's graphs are written with onnx")
    from toy_bundles import write_stylizer

    from styleforge.runtime.bundle import update_bundle
    from styleforge.runtime.manifest import TunedCandidate, TunedHost, TuningRecord

    path = write_stylizer(tmp_path / "toy.sfbundle")
    row = TunedCandidate("ort-cpu", "fp32", {"spinning": False}, {"512x512": 10.0}, psnr, True, "", worst)
    record = TuningRecord(tool="styleforge tune", time="now", host=TunedHost(cpu="Some CPU"), runner="ort-cpu",
                          options={"spinning": False}, variant="fp32", min_psnr=40.0, sizes=[[512, 512]], table=[row])
    update_bundle(path, patch=lambda m: setattr(m, "tuning", record))
    return path, record


def _rewrite(path, edit):
    """Edit manifest.json's JSON with `edit` and re-sign it, as a writer without this check would."""
    from styleforge.runtime.manifest import DIGEST_FIELD, manifest_digest

    f = path / "manifest.json"
    data = json.loads(f.read_text())
    edit(data)
    data[DIGEST_FIELD] = manifest_digest(data)
    f.write_text(json.dumps(data))


def test_the_worst_case_round_trips_and_an_older_record_still_reads(tmp_path):
    from styleforge.runtime.bundle import open_bundle

    path, record = _tuned_toy(tmp_path)
    got = open_bundle(path).manifest.tuning
    assert got == record and got.table[0].worst == "bench picture + mosaic style at 512x512"
    _rewrite(path, lambda d: d["tuning"]["table"][0].pop("worst"))  # a record written before the field
    assert "worst" not in json.loads((path / "manifest.json").read_text())["tuning"]["table"][0]
    old = open_bundle(path).manifest.tuning.table[0]
    assert old.worst is None and old.psnr == 41.5


def test_the_worst_case_is_checked_when_written_and_read(tmp_path):
    from styleforge.runtime.bundle import open_bundle

    with pytest.raises(BundleError, match=r"tuning.table\[0\].worst"):
        _tuned_toy(tmp_path / "a", worst="bench picture", psnr=None)  # a worst case without a PSNR
    assert open_bundle(tmp_path / "a" / "toy.sfbundle").manifest.tuning is None  # the refused write left it as it was
    with pytest.raises(BundleError, match=r"tuning.table\[0\].worst"):
        _tuned_toy(tmp_path / "b", worst="two\nlines")
    path, _ = _tuned_toy(tmp_path / "c")
    _rewrite(path, lambda d: d["tuning"]["table"][0].update(worst=3))
    with pytest.raises(BundleError, match=r"tuning.table\[0\].worst must be a str"):
        open_bundle(path)
    _rewrite(path, lambda d: d["tuning"]["table"][0].update(worst="", psnr=None))
    with pytest.raises(BundleError, match=r"tuning.table\[0\].worst"):
        open_bundle(path)
