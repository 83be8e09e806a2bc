"""The bundle contract: written atomically, hash-checked at load, validated against golden outputs."""
import json
import os

import numpy as np
import pytest

from helpers import write_scale_bundle
from styleforge.runtime import BundleError, load, open_bundle
from styleforge.runtime.atomic import atomic_dir, atomic_path
from styleforge.runtime.validation import compare, validate_bundle

pytestmark = pytest.mark.runtime  # runs with the runtime alone too (.ci/run's second step)


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
                              "layout": "NCHW", "range": [0, 255], "color_order": "RGB", "description": "",
                              "value_file": None, "purpose": None}
    assert m["model"]["interface"] == "graph" and m["model"]["method"] == "scale"
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
    with pytest.raises(BundleError, match="schema_version"):
        open_bundle(tmp_path / "d")
    (tmp_path / "d" / "manifest.json").write_text('{"schema_version": 2}')
    with pytest.raises(BundleError, match="missing field model"):
        open_bundle(tmp_path / "d")


def test_validate_passes_and_records_report(bundle):
    report = validate_bundle(bundle, backend="ort-cpu", record=True)
    assert report["passed"] and len(report["cases"]) == 2
    out = report["cases"][0]["outputs"][0]
    assert out["max_abs"] < 1e-3 and out["cosine"] > 0.99999
    m = open_bundle(bundle).manifest  # hashes still consistent after the report was added
    assert m.validation["ort-cpu"].passed is True and "validation-ort-cpu.json" in m.files


def test_validate_fails_on_wrong_golden(tmp_path):
    pytest.importorskip("onnx")  # builds another graph
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
    with pytest.raises(Exception, match="backend 'tensorrt' cannot run graph 'stylize' here: needs tensorrt>=10.6"):
        load(bundle, backend="tensorrt").run({"image": np.zeros((1, 3, 4, 4), np.float32)})


def test_engine_selection_matches_gpu_and_exact_version():
    """Engines load only in the TensorRT version that built them (NVIDIA: "compatible only with the version of
    TensorRT used to build them"), compared verbatim; the compute capability must match unless the engine is
    hardware-compatible (ampere_plus: any GPU >= 8.0); version-compatible engines load in later versions of the
    same major."""
    from styleforge.runtime.backends.engines import engine_matches, select_engine
    from styleforge.runtime.errors import BundleError

    from types import SimpleNamespace

    from styleforge.runtime.manifest import EngineRecord

    rec = EngineRecord(role="stylize", file="engines/a.engine", compute_capability="9.0", tensorrt="10.9.0.34",
                       precision="fp32", gpu="NVIDIA H100")
    m = SimpleNamespace(engines=[rec])
    assert select_engine(m, "stylize", "9.0", "10.9.0.34").file == "engines/a.engine"
    with pytest.raises(BundleError, match=r"no TensorRT engine .* exact version"):
        select_engine(m, "stylize", "9.0", "10.9.1.2")      # major.minor equal is not enough
    with pytest.raises(BundleError, match="no TensorRT engine .* compute capability 8.0"):
        select_engine(m, "stylize", "8.0", "10.9.0.34")
    other_gpu = engine_matches(rec, trt_version="10.9.0.34", cc="9.0", gpu="NVIDIA H200")
    assert other_gpu.ok and "H100" in other_gpu.why     # same cc, other model: loads, with a note
    amp = EngineRecord(**{**rec.__dict__, "hardware_compatibility": "ampere_plus"})
    assert engine_matches(amp, trt_version="10.9.0.34", cc="8.6").ok
    assert not engine_matches(amp, trt_version="10.9.0.34", cc="7.5").ok
    vc = EngineRecord(**{**rec.__dict__, "version_compatible": True})
    assert engine_matches(vc, trt_version="10.16.1.11", cc="9.0").ok
    assert not engine_matches(vc, trt_version="10.8.0.1", cc="9.0").ok and not engine_matches(vc, trt_version="11.0.0.114", cc="9.0").ok


def test_atomic_files_get_normal_permissions(tmp_path):
    from styleforge.runtime.atomic import write_text

    write_text(tmp_path / "a.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~mask


# --- the typed contract ------------------------------------------------------------------------------

def _edit_manifest(bundle, edit):
    path = bundle / "manifest.json"
    m = json.loads(path.read_text())
    edit(m)
    path.write_text(json.dumps(m))


def test_typed_manifest_fields(bundle):
    from styleforge.runtime.manifest import GraphSpec, Manifest, TensorSpec, Tolerance

    m = open_bundle(bundle).manifest
    assert isinstance(m, Manifest) and isinstance(m.graphs[0], GraphSpec)
    assert isinstance(m.graphs[0].inputs[0], TensorSpec) and m.graphs[0].inputs[0].shape == ["batch", 3, "height", "width"]
    assert isinstance(m.tolerances.default, Tolerance)
    assert m.graph("stylize").output("stylized").range == [0, 255]
    assert m.size_constraints.multiple_of == 1


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.update(surprise=1), "unknown field surprise"),
    (lambda m: m["model"].update(colour="red"), "unknown field model.colour"),
    (lambda m: m["graphs"][0]["inputs"][0].update(bits=8), r"unknown field graphs\[0\].inputs\[0\].bits"),
    (lambda m: m.pop("tolerances"), "missing field tolerances"),
    (lambda m: m["size_constraints"].update(multiple_of="four"), "size_constraints.multiple_of must be an integer"),
    (lambda m: m.update(schema_version=99), "schema version 99 is newer"),
    (lambda m: m["model"].update(interface="hologram"), "unknown runtime interface 'hologram'"),
    (lambda m: m["golden"][0].update(graph="nope"), "refers to graph 'nope'"),
])
def test_bad_manifests_are_refused_with_one_line(bundle, edit, message):
    _edit_manifest(bundle, edit)
    with pytest.raises(BundleError, match=message) as e:
        open_bundle(bundle, verify=False)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("rel", ["../outside.onnx", "/etc/passwd", "golden/../../x.npz", "C:/x.onnx"])
def test_paths_leaving_the_bundle_are_refused(bundle, rel):
    def edit(m):
        m["files"][rel] = "0" * 64
    _edit_manifest(bundle, edit)
    with pytest.raises(BundleError, match="outside the bundle"):
        open_bundle(bundle, verify=False)


def test_size_multiple_is_a_typed_field_everywhere(tmp_path):
    """The bug the typed contract removes: tensorrt_build read size_constraints["multiple"] while exporters
    wrote multiple_of, so default engine profiles ignored the multiple. Profiles also respect min_side."""
    from styleforge.runtime.backends.profiles import default_bucket
    from styleforge.runtime.manifest import SizeConstraints, TensorSpec

    spec = [TensorSpec(name="content", dtype="float32", shape=["batch", 3, "height", "width"])]
    mn, opt, mx = default_bucket(spec, SizeConstraints(multiple_of=16, min_side=16))["content"]
    assert all(d % 16 == 0 for d in (*mn[2:], *opt[2:], *mx[2:])) and mn[2] == 16 and (mn[0], mx[0]) == (1, 4)
    mn, _, _ = default_bucket(spec, SizeConstraints(multiple_of=8, min_side=20))["content"]
    assert mn[2:] == (24, 24)   # the smallest multiple of 8 that is at least min_side


def test_schema1_manifest_is_upgraded_in_memory(bundle):
    """Bundles written before the typed contract still load (and are not rewritten by reading)."""
    def to_v1(m):
        m["schema_version"] = 1
        model = m.pop("model")
        m["model"] = {"name": model["name"], "family": "stylizer",
                      "config": {"model": "transformer_net", "width_mult": 0.5, "num_styles": 2}}
        m["num_styles"] = 2
        m["styles"] = ["sample:mosaic", "sample:waves"]
        m["tolerance_basis"] = "measured"
        tol = m.pop("tolerances")["default"]
        m["tolerances"] = {k: v for k, v in tol.items() if v is not None}
        m["size_constraints"] = {"multiple_of": 4, "min_side": 4, "padding": "reflect", "note": "pad"}
        m["batch_dynamic"] = True
        m["step"] = 7
        for key in ("exporter", "source_checkpoint", "training", "lineage"):
            m.pop(key, None)
        for c in m["golden"]:
            c.pop("reference"), c.pop("tolerance")
    _edit_manifest(bundle, to_v1)
    before = (bundle / "manifest.json").read_bytes()
    m = open_bundle(bundle, verify=False).manifest
    from styleforge.runtime.manifest import SCHEMA_VERSION

    assert m.schema_version == SCHEMA_VERSION and m.model.interface == "stylizer" and m.model.method == "stylizer"
    assert m.model.config.num_styles == 2 and m.model.config.network_config == {"width_mult": 0.5}
    assert m.model.step == 7 and m.tolerances.basis == "measured" and m.size_constraints.multiple_of == 4
    assert (bundle / "manifest.json").read_bytes() == before


def test_writer_refuses_a_bad_manifest_before_writing(tmp_path):
    pytest.importorskip("onnx")
    from helpers import scale_graph
    from styleforge.export.core.bundle_writer import BundleWriter
    from styleforge.runtime.manifest import GraphConfig

    w = BundleWriter(name="x", method="scale", family="graph", interface="graph", config=GraphConfig())
    w.add_graph("stylize", scale_graph())
    w.add_golden("case", "missing_role", {"image": np.zeros((1, 3, 4, 4), np.float32)}, {"stylized": np.zeros(1)})
    with pytest.raises(BundleError, match="refers to graph 'missing_role'"):
        w.write(tmp_path / "x.sfbundle")
    assert not (tmp_path / "x.sfbundle").exists()


def test_tolerance_profiles_are_chosen_by_backend_and_precision():
    from styleforge.runtime.manifest import Tolerance, TolerancePolicy, ToleranceProfile, profile_name

    assert profile_name("ort-cpu", "fp32") == "cpu-fp32"
    assert profile_name("ort-cuda", "fp32") == profile_name("tensorrt", "fp32") == "gpu-tf32"
    assert profile_name("ort-cpu", "int8") == "int8" and profile_name("tensorrt", "fp16") == "fp16"
    pol = TolerancePolicy(default=Tolerance(max_abs=1e-3), per_output={"act": Tolerance(max_abs=1e-2)},
                          profiles={"gpu-tf32": ToleranceProfile(default=Tolerance(max_abs=0.5, min_psnr=60))})
    assert pol.for_output("image").max_abs == 1e-3 and pol.for_output("act").max_abs == 1e-2
    assert pol.for_output("image", profile="gpu-tf32").max_abs == 0.5
    assert pol.for_output("image", Tolerance(max_abs=9.0), profile="gpu-tf32").max_abs == 9.0  # a case's own limit wins
    assert pol.for_output("image", profile="int8").max_abs == 1e-3  # a profile the bundle lacks: the strict default


# --- integrity (issue 14 #7) ---------------------------------------------------------------------------

def test_a_changed_manifest_is_refused_like_a_changed_graph(bundle):
    """The manifest carries the sha256 of its own canonical JSON; loosening a tolerance by hand is caught."""
    def loosen(m):
        m["tolerances"]["default"]["max_abs"] = 1e9
    _edit_manifest(bundle, loosen)
    with pytest.raises(BundleError, match="does not match its manifest_sha256") as e:
        open_bundle(bundle)
    assert "\n" not in str(e.value)
    with pytest.raises(BundleError, match="manifest_sha256"):
        load(bundle)
    assert open_bundle(bundle, verify=False).manifest.tolerances.default.max_abs == 1e9  # verify=False: as asked
    _edit_manifest(bundle, lambda m: m.pop("manifest_sha256"))
    with pytest.raises(BundleError, match="has no manifest_sha256"):
        open_bundle(bundle)


def test_links_leaving_the_bundle_are_refused(bundle, tmp_path):
    """A file, a folder or the manifest itself that is a link out of the bundle is refused, even when the target's
    content matches the recorded sha256."""
    import shutil

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(bundle / "stylize.onnx", outside / "stylize.onnx")
    (bundle / "stylize.onnx").unlink()
    (bundle / "stylize.onnx").symlink_to(outside / "stylize.onnx")
    with pytest.raises(BundleError, match="leads outside the bundle"):
        open_bundle(bundle)
    with pytest.raises(BundleError, match="leads outside the bundle"):   # also without hash checks
        load(bundle, verify=False, backend="ort-cpu").run({"image": np.zeros((1, 3, 4, 4), np.float32)})
    (bundle / "stylize.onnx").unlink()
    shutil.copy(outside / "stylize.onnx", bundle / "stylize.onnx")
    shutil.copytree(bundle / "golden", outside / "golden")
    shutil.rmtree(bundle / "golden")
    (bundle / "golden").symlink_to(outside / "golden")
    with pytest.raises(BundleError, match="leads outside the bundle"):
        open_bundle(bundle)
    (bundle / "golden").unlink()
    shutil.copytree(outside / "golden", bundle / "golden")
    assert open_bundle(bundle)                                           # restored: loads again
    shutil.move(bundle / "manifest.json", outside / "manifest.json")
    (bundle / "manifest.json").symlink_to(outside / "manifest.json")
    with pytest.raises(BundleError, match="leads outside the bundle"):
        open_bundle(bundle)


def test_every_referenced_file_must_be_hash_checked(bundle):
    """An engine or validation report the manifest names but does not hash would be read unchecked: refused."""
    def add_report(m):
        m["validation"]["ort-cpu"] = {"report": "validation-ort-cpu.json", "passed": True, "time": "now"}
    _edit_manifest(bundle, add_report)
    with pytest.raises(BundleError, match="validation report file validation-ort-cpu.json has no sha256"):
        open_bundle(bundle, verify=False)


@pytest.mark.parametrize("rel", ["./stylize.onnx", "a/./b.onnx", "x\0.onnx"])
def test_odd_relative_paths_are_refused(bundle, rel):
    def edit(m):
        m["files"][rel] = "0" * 64
    _edit_manifest(bundle, edit)
    with pytest.raises(BundleError, match="outside the bundle"):
        open_bundle(bundle, verify=False)


def test_concurrent_load_never_sees_a_half_updated_bundle(bundle):
    """update_bundle in a loop (new report content each time, as re-validation writes) while another thread loads
    the bundle with every hash checked: no load ever fails, and the updates all land."""
    import threading

    from styleforge.runtime.bundle import update_bundle
    from styleforge.runtime.manifest import ValidationRecord

    stop, errors, loads = threading.Event(), [], [0]

    def reader():
        while not stop.is_set():
            try:
                open_bundle(bundle)
                loads[0] += 1
            except BundleError as e:
                errors.append(str(e))

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for k in range(60):
            data = json.dumps({"run": k, "pad": "x" * (k * 50)}).encode()

            def patch(m, k=k):
                m.validation["ort-cpu"] = ValidationRecord(report="validation-ort-cpu.json", passed=True, time=str(k))
            update_bundle(bundle, add_files={"validation-ort-cpu.json": data}, patch=patch)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == [] and loads[0] > 0
    m = open_bundle(bundle).manifest
    assert m.validation["ort-cpu"].time == "59"
    assert json.loads((bundle / m.validation["ort-cpu"].report).read_text())["run"] == 59
    on_disk = {p.name for p in bundle.iterdir() if p.name.startswith("validation-")}
    assert on_disk == {m.validation["ort-cpu"].report}                   # superseded reports removed


def test_two_updates_never_lose_each_others_change(bundle):
    import threading

    from styleforge.runtime.bundle import update_bundle

    def add(k):
        update_bundle(bundle, add_files={f"notes/{k}.txt": str(k).encode()})

    threads = [threading.Thread(target=add, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {f"notes/{k}.txt" for k in range(8)} <= set(open_bundle(bundle).manifest.files)


def _looks_like_a_bundle(folder):
    """What atomic_dir(kind="bundle") recognises as a StyleForge bundle it may replace (runtime/artefacts.py)."""
    (folder / "manifest.json").write_text('{"schema_version": 3, "model": {}, "graphs": []}')


def test_atomic_dir_failed_second_rename_restores_the_old_directory(tmp_path, monkeypatch):
    """Without an atomic exchange (not Linux) the replacement takes two renames; when the second fails the old
    directory is back at its path and nothing hidden is left behind."""
    from styleforge.runtime import atomic

    target = tmp_path / "b.sfbundle"
    with atomic_dir(target, kind="bundle") as tmp:
        _looks_like_a_bundle(tmp)
        (tmp / "f").write_text("old")
    monkeypatch.setattr(atomic, "exchange", lambda a, b: False, raising=False)
    real_replace = os.replace

    def failing_replace(src, dst):
        if str(dst) == str(target) and ".tmp" in str(src):
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        with atomic_dir(target, kind="bundle") as tmp:
            _looks_like_a_bundle(tmp)
            (tmp / "f").write_text("new")
    assert (target / "f").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.sfbundle"]


def test_atomic_dir_replaces_without_a_gap(tmp_path):
    """Where the OS has an atomic exchange, a reader polling the path never finds it missing."""
    import threading

    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("renameat2(RENAME_EXCHANGE) is Linux's")
    target = tmp_path / "b.sfbundle"
    with atomic_dir(target, kind="bundle") as tmp:
        _looks_like_a_bundle(tmp)
        (tmp / "f").write_text("0")
    stop, missing = threading.Event(), []

    def poll():
        while not stop.is_set():
            if not (target / "f").exists():
                missing.append(1)

    t = threading.Thread(target=poll)
    t.start()
    for k in range(50):
        with atomic_dir(target, kind="bundle") as tmp:
            _looks_like_a_bundle(tmp)
            (tmp / "f").write_text(str(k))
    stop.set()
    t.join()
    assert missing == [] and (target / "f").read_text() == "49"


def test_umask_is_read_once_not_toggled_per_write(tmp_path, monkeypatch):
    """os.umask(0) + os.umask(mask) per call races with other threads creating files: never called per write."""
    from styleforge.runtime.atomic import write_text

    mask = os.umask(0o022)
    os.umask(mask)

    def no_umask(*_):
        raise AssertionError("os.umask called while writing")

    monkeypatch.setattr(os, "umask", no_umask)
    write_text(tmp_path / "a.txt", "x")
    with atomic_dir(tmp_path / "d") as tmp:
        (tmp / "f").write_text("y")
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~mask
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o777 & ~mask
