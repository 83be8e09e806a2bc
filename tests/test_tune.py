"""``styleforge tune`` on a tiny stylizer: a typed tuning record is written with the whole table; ``auto`` honours it
on this host and falls back to its rule (saying why, and ``doctor`` too) on another; the budget stops the search;
the record parses strictly and an untuned manifest stays as older runtimes read it."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("openvino", reason="the openvino extra is not installed (pip install 'styleforge[openvino]')")

from styleforge.runtime.errors import StyleForgeError  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from styleforge.export.core.api import export_checkpoint
    from styleforge.train.stylizer.trainer import train_stylizer

    d = tmp_path_factory.mktemp("tune")
    ckpt = train_stylizer(["sample:mosaic"], d / "run", steps=2, size=32, batch=1, width_mult=0.125, progress=False)
    return export_checkpoint(ckpt, d / "tiny.sfbundle")


@pytest.fixture(scope="module")
def tuned(tiny, tmp_path_factory):
    """Tuned among OpenVINO candidates only, so that the record names a runner auto's own rule would not pick."""
    from styleforge.export.tune.api import tune_bundle

    out = tmp_path_factory.mktemp("tuned") / "tiny-tuned.sfbundle"
    lines: list[str] = []
    path, record = tune_bundle(tiny, out, min_psnr=20.0, sizes=[(32, 32)], budget_s=300, runs=2, runners=["openvino"],
                               variants=(("fp32", None), ("int8", None)), log=lines.append)
    return path, record, lines


def test_record_is_written_with_host_winner_and_table(tuned):
    from styleforge.runtime.bundle import open_bundle
    from styleforge.runtime.tuning import host_info

    path, record, lines = tuned
    m = open_bundle(path).manifest
    assert m.tuning == record and record.runner == "openvino" and record.host == host_info()
    assert [r.precision for r in record.table] == ["fp32", "fp32", "int8"]  # f32 and bf16 hints on fp32, f32 on int8
    timed = [r for r in record.table if r.meets_floor and r.median_ms and "never the winner" not in r.note]
    fastest = min(r.median_ms["32x32"] for r in timed)
    win = next(r for r in timed if (r.runner, r.options, r.precision) == (record.runner, record.options, record.variant))
    assert win.median_ms["32x32"] <= fastest * 1.03  # the fastest, or within the tie margin and more accurate
    assert m.precision == record.variant.split("-")[0]
    assert any("ETA" in ln for ln in lines)
    # every scored row names its worst case (golden case, held-out photo or the timed input), shown in the table
    from styleforge.export.tune.commands import format_table

    assert all(r.worst for r in record.table if r.psnr is not None) and win.worst
    assert win.worst.startswith(("golden case", "held-out", "bench picture at 32x32")) and win.worst in format_table(record)


def test_auto_honours_the_record_on_this_host(tuned):
    from styleforge.runtime.model import load

    path, record, _ = tuned
    runner = load(path).session("stylize")
    assert runner.name == "openvino" and runner.hint == record.options["hint"]
    assert "tuning record" in runner.selection.describe()


def test_host_mismatch_falls_back_and_doctor_says_so(tuned, tmp_path):
    import shutil

    from styleforge.runtime.bundle import update_bundle
    from styleforge.runtime.doctor import doctor, format_doctor
    from styleforge.runtime.model import load

    path = tmp_path / "elsewhere.sfbundle"
    shutil.copytree(tuned[0], path)

    def move(m):
        m.tuning.host.cpu = "Some Other CPU"

    update_bundle(path, patch=move)
    runner = load(path).session("stylize")
    assert runner.name == "ort-cpu"  # auto's own rule
    assert "tuned on 'Some Other CPU'" in runner.selection.note and "tuning record not used" in runner.selection.describe()
    text = format_doctor(doctor(path))
    assert "made for another host" in text and "Some Other CPU" in text


def test_ties_go_to_the_more_accurate_candidate():
    from styleforge.export.tune.api import _winner
    from styleforge.runtime.manifest import TunedCandidate

    rows = {0: TunedCandidate("ort-cpu", "int8", median_ms={"s": 100.0}, psnr=41.0, meets_floor=True),
            1: TunedCandidate("openvino", "fp32", median_ms={"s": 102.0}, psnr=80.0, meets_floor=True),
            2: TunedCandidate("ort-cpu", "fp32", median_ms={"s": 150.0}, psnr=None, meets_floor=True)}
    assert _winner([0, 1, 2], rows) == 1  # 2 % slower, 39 dB better: a tie, won by accuracy
    rows[1].median_ms["s"] = 110.0
    assert _winner([0, 1, 2], rows) == 0


def test_nncf_variant_is_a_checked_int8_bundle_with_its_lineage(tiny, tmp_path):
    pytest.importorskip("nncf", reason="nncf comes with the openvino extra")
    from styleforge.export.convert.api import convert_bundle
    from styleforge.export.tune.nncf_variant import nncf_int8
    from styleforge.runtime.bundle import open_bundle
    from styleforge.runtime.validation import validate_bundle
    from styleforge.train.core.samples import resolve_image

    fp32, _ = convert_bundle(tiny, tmp_path / "fp32.sfbundle", validate=False)
    int8, _ = convert_bundle(tiny, tmp_path / "int8.sfbundle", precision="int8", calibration=["sample:astronaut"],
                             calibration_size=32, validate=False)
    out = nncf_int8(fp32, int8, tmp_path / "nncf.sfbundle", [resolve_image("sample:astronaut", max_side=32)])
    b = open_bundle(out)  # hashes and manifest digest checked
    assert b.manifest.precision == "int8" and b.manifest.lineage.conversion.options["int8_method"] == "nncf"
    assert "nncf.quantize" in b.manifest.lineage.conversion.passes["stylize"][0]
    graph = onnx.load(str(b.file(b.graph("stylize").file)))
    assert graph.SerializeToString() != onnx.load(str(open_bundle(int8).file("stylize.onnx"))).SerializeToString()
    assert "QuantizeLinear" in {n.op_type for n in graph.graph.node}
    report = validate_bundle(out, backend="openvino")
    assert report["tolerance_profile"] == "int8" and not report.get("error")


def test_budget_stops_the_search(tiny, tmp_path):
    from styleforge.export.tune.api import tune_bundle

    with pytest.raises(StyleForgeError, match="within the budget"):
        tune_bundle(tiny, tmp_path / "t.sfbundle", sizes=[(32, 32)], budget_s=0.001, runners=["ort-cpu"],
                    variants=(("fp32", None),), log=lambda m: None)
    assert not (tmp_path / "t.sfbundle").exists()


def test_record_parses_strictly_and_untuned_manifests_omit_it(tuned, tiny):
    from styleforge.runtime.manifest import BundleError, TuningRecord, from_dict, to_dict

    record = tuned[1]
    assert from_dict(TuningRecord, json.loads(json.dumps(to_dict(record))), "tuning") == record
    with pytest.raises(BundleError, match="unknown field tuning.host.socket"):
        from_dict(TuningRecord, {**to_dict(record), "host": {**to_dict(record.host), "socket": 1}}, "tuning")
    assert "tuning" not in json.loads((tiny / "manifest.json").read_text())


def test_cli_sizes_and_refusals(tiny, tmp_path, cli):
    from styleforge.export.tune.commands import parse_sizes

    assert parse_sizes("256,512x384") == [(256, 256), (512, 384)]
    with pytest.raises(StyleForgeError, match="not N or HxW"):
        parse_sizes("big")
    (tmp_path / "notabundle").mkdir()
    r = cli("tune", str(tiny), "--out", str(tmp_path / "notabundle"))
    assert r.returncode != 0 and "is not a bundle" in r.stderr and "Traceback" not in r.stderr
