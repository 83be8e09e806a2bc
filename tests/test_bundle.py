"""The bundle contract: written atomically, hash-checked at load, validated against golden outputs."""
import json
import os

import numpy as np
import pytest

from helpers import write_scale_bundle
from styleforge.runtime import BundleError, load, open_bundle
from styleforge.runtime.atomic import atomic_dir, atomic_path
from styleforge.runtime.validation import compare, validate_bundle


@pytest.fixture
def bundle(tmp_path):
    return write_scale_bundle(tmp_path / "scale.sfbundle")


def test_manifest_has_every_field(bundle):
    m = json.loads((bundle / "manifest.json").read_text())
    for key in ("schema_version", "model", "graphs", "files", "tolerances", "precision", "opset", "producer",
                "golden", "size_constraints", "engines", "loss_network"):
        assert key in m, key
    g = m["graphs"][0]
    assert g["role"] == "stylize"
    assert g["inputs"][0] == {"name": "image", "dtype": "float32", "shape": ["batch", 3, "height", "width"],
                              "layout": "NCHW", "range": [0, 255], "color_order": "RGB"}
    assert set(m["files"]) == {"stylize.onnx", "golden/b1_16x20.npz", "golden/b2_9x13.npz"}
    assert all(len(h) == 64 for h in m["files"].values())
    assert "onnx" in m["producer"] and "python" in m["producer"]


def test_no_temporary_left_behind(tmp_path):
    write_scale_bundle(tmp_path / "a.sfbundle")
    write_scale_bundle(tmp_path / "a.sfbundle")  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.sfbundle"]


def test_tampered_graph_is_refused(bundle):
    data = bytearray((bundle / "stylize.onnx").read_bytes())
    data[-1] ^= 0xFF
    (bundle / "stylize.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="stylize.onnx does not match its sha256"):
        open_bundle(bundle)
    with pytest.raises(BundleError):
        load(bundle)


def test_tampered_golden_and_missing_file_are_refused(bundle):
    (bundle / "golden" / "b2_9x13.npz").write_bytes(b"x")
    with pytest.raises(BundleError, match="b2_9x13.npz does not match"):
        open_bundle(bundle)
    os.unlink(bundle / "golden" / "b2_9x13.npz")
    with pytest.raises(BundleError, match="missing"):
        open_bundle(bundle)


def test_not_a_bundle(tmp_path):
    with pytest.raises(BundleError, match="no such bundle"):
        open_bundle(tmp_path / "none")
    (tmp_path / "d").mkdir()
    with pytest.raises(BundleError, match="not a bundle"):
        open_bundle(tmp_path / "d")
    (tmp_path / "d" / "manifest.json").write_text("{}")
    with pytest.raises(BundleError, match="lacks field"):
        open_bundle(tmp_path / "d")


def test_validate_passes_and_records_report(bundle):
    report = validate_bundle(bundle, backend="ort-cpu")
    assert report["passed"] and len(report["cases"]) == 2
    out = report["cases"][0]["outputs"][0]
    assert out["max_abs"] < 1e-3 and out["cosine"] > 0.99999
    m = open_bundle(bundle).manifest  # hashes still consistent after the report was added
    assert m["validation"]["ort-cpu"]["passed"] is True and "validation-ort-cpu.json" in m["files"]


def test_validate_fails_on_wrong_golden(tmp_path):
    path = write_scale_bundle(tmp_path / "b.sfbundle", factor=0.5)
    # rewrite the graph with another factor, keep hashes consistent: validation must now fail
    from helpers import scale_graph
    from styleforge.runtime.bundle import update_bundle

    update_bundle(path, add_files={"stylize.onnx": scale_graph(0.6)})
    report = validate_bundle(path, backend="ort-cpu", write_report=False)
    assert not report["passed"]
    assert "max_abs" in report["cases"][0]["outputs"][0]["failed"]


def test_compare_metrics():
    a = np.zeros((2, 3), np.float32)
    m = compare(a + 1, a + 1, 255.0)
    assert m["max_abs"] == 0 and m["psnr"] == float("inf") and m["cosine"] == pytest.approx(1.0)
    m = compare(a + 2, a + 1, 255.0)
    assert m["max_abs"] == 1 and m["psnr"] == pytest.approx(20 * np.log10(255.0))
    assert "shape_mismatch" in compare(a, a[:1], 1.0)


def test_unknown_backend_is_clear(bundle):
    with pytest.raises(Exception, match="unknown backend 'nope'"):
        load(bundle, backend="nope").run({"image": np.zeros((1, 3, 4, 4), np.float32)})


def test_atomic_writers_leave_nothing_on_failure(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "f.png") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("boom")
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "d.sfbundle") as tmp:
            (tmp / "x").write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_tensorrt_backend_without_tensorrt_is_explicit(bundle):
    import importlib.util

    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("tensorrt is installed here; this test covers machines without it")
    with pytest.raises(Exception, match="backend 'tensorrt' is not available"):
        load(bundle, backend="tensorrt").run({"image": np.zeros((1, 3, 4, 4), np.float32)})


def test_engine_selection_matches_gpu_and_version():
    from styleforge.runtime.backends.tensorrt import select_engine
    from styleforge.runtime.errors import BundleError

    m = {"engines": [{"role": "stylize", "file": "engines/a.engine", "compute_capability": "9.0", "tensorrt": "10.9.0"}]}
    assert select_engine(m, "stylize", "9.0", "10.9.1")["file"] == "engines/a.engine"
    with pytest.raises(BundleError, match="no TensorRT engine .* compute capability 8.0"):
        select_engine(m, "stylize", "8.0", "10.9.0")


def test_atomic_files_get_normal_permissions(tmp_path):
    from styleforge.runtime.atomic import write_text

    write_text(tmp_path / "a.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~mask
