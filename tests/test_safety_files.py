"""Nothing is deleted that StyleForge did not make (issue 20, item 1): every command that writes a bundle or a Triton
model replaces only a StyleForge artefact of that kind, never an input, only after the new one validated in a
staging folder, atomically and durably; an interrupted run leaves the old artefact or the new one, and a rerun
succeeds. Also: bundles are data (digest-less manifests, hash checks when a graph is opened, external data)."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import foreign_graphs as fg  # noqa: E402
from helpers import write_scale_bundle  # noqa: E402
from styleforge.runtime.cli import main  # noqa: E402
from styleforge.runtime.errors import StyleForgeError  # noqa: E402


def _user_folder(path):
    """A folder of the user's: a file and a subfolder StyleForge never made."""
    (path / "sub").mkdir(parents=True)
    (path / "precious.txt").write_text("mine")
    (path / "sub" / "y").write_text("also mine")
    return path


def _untouched(path) -> bool:
    return (path / "precious.txt").read_text() == "mine" and (path / "sub" / "y").read_text() == "also mine"


def _import_args(model, out):
    return ["import-onnx", str(model), "--interface", "translator", "--range=-1,1", "--output", "out", "--out", str(out)]


@pytest.fixture(scope="module")
def foreign(tmp_path_factory):
    d = tmp_path_factory.mktemp("safety_foreign")
    (d / "tr.onnx").write_bytes(fg.nchw_pm1_translator())
    return d / "tr.onnx"


@pytest.fixture(scope="module")
def imported(foreign, tmp_path_factory):
    out = tmp_path_factory.mktemp("safety_imported") / "tr.sfbundle"
    assert main(_import_args(foreign, out)) == 0
    return out


# --- --out replaces only a StyleForge bundle ----------------------------------------------------------------------

def test_import_onnx_refuses_to_replace_a_users_folder(foreign, tmp_path, capsys):
    """Before: exit 0, and precious.txt and sub/ were gone (replaced by a bundle)."""
    k = _user_folder(tmp_path / "k")
    assert main(_import_args(foreign, k)) == 2
    err = capsys.readouterr().err
    assert f"--out {k}" in err and "not a StyleForge bundle" in err and err.count("\n") == 1
    assert _untouched(k) and sorted(p.name for p in k.iterdir()) == ["precious.txt", "sub"]


def test_a_web_manifest_or_a_file_is_not_a_bundle(foreign, tmp_path, capsys):
    web = tmp_path / "site"
    web.mkdir()
    (web / "manifest.json").write_text(json.dumps({"name": "my app", "icons": []}))
    assert main(_import_args(foreign, web)) == 2
    assert (web / "manifest.json").exists()
    f = tmp_path / "notes.sfbundle"
    f.write_text("a file")
    assert main(_import_args(foreign, f)) == 2 and f.read_text() == "a file"
    assert "not a StyleForge bundle" in capsys.readouterr().err


def test_a_styleforge_bundle_is_replaced_and_nothing_is_left_beside_it(foreign, tmp_path):
    out = tmp_path / "b.sfbundle"
    assert main(_import_args(foreign, out)) == 0
    first = (out / "manifest.json").read_bytes()
    assert main(_import_args(foreign, out) + ["--name", "again"]) == 0
    assert (out / "manifest.json").read_bytes() != first and json.loads((out / "manifest.json").read_text())["model"]["name"] == "again"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.sfbundle"]  # no staging or .old folder left


def test_convert_refuses_a_users_folder_and_its_own_input(imported, tmp_path, capsys):
    k = _user_folder(tmp_path / "k2")
    assert main(["convert", str(imported), "--out", str(k)]) == 2
    assert _untouched(k)
    before = (imported / "manifest.json").read_bytes()
    assert main(["convert", str(imported), "--out", str(imported)]) == 2
    assert "is the input" in capsys.readouterr().err
    assert main(["convert", str(imported), "--out", str(imported / "inner.sfbundle")]) == 2
    assert "inside the input" in capsys.readouterr().err
    assert (imported / "manifest.json").read_bytes() == before and not (imported / "inner.sfbundle").exists()


def test_import_onnx_refuses_its_model_as_out_or_inside_out(foreign, imported, tmp_path, capsys):
    data = foreign.read_bytes()
    model = tmp_path / "m.onnx"
    model.write_bytes(data)
    assert main(_import_args(model, model)) == 2
    assert "is the input" in capsys.readouterr().err and model.read_bytes() == data
    b = tmp_path / "b.sfbundle"
    shutil.copytree(imported, b)
    (b / "m.onnx").write_bytes(data)  # the model lies inside the bundle --out would replace
    assert main(_import_args(b / "m.onnx", b)) == 2
    assert "holds the input" in capsys.readouterr().err and (b / "m.onnx").read_bytes() == data


def test_export_refuses_a_users_folder_and_the_run_folder(tmp_path, capsys):
    pytest.importorskip("torch")
    run = tmp_path / "run"
    assert main(["train", "template", "--out", str(run), "--steps", "1", "--size", "16", "--batch", "1", "--width", "4",
                 "--no-progress"]) == 0
    k3 = _user_folder(tmp_path / "k3")
    assert main(["export", str(run), "--out", str(k3)]) == 2
    assert _untouched(k3)
    assert main(["export", str(run), "--out", str(run / "t.sfbundle")]) == 2
    assert "inside the input" in capsys.readouterr().err and not (run / "t.sfbundle").exists()
    assert main(["export", str(run), "--out", str(tmp_path / "t.sfbundle"), "--no-validate"]) == 0
    assert main(["export", str(run), "--out", str(tmp_path / "t.sfbundle")]) == 0  # its own bundle: replaced


def test_stylize_refuses_to_write_onto_its_input_image(tmp_path, capsys):
    """Before: `stylize b h.png --out h.png` replaced the photo without a word."""
    from PIL import Image

    b = write_scale_bundle(tmp_path / "s.sfbundle", "stylizer")
    h = tmp_path / "h.png"
    Image.fromarray(np.full((16, 16, 3), 100, np.uint8)).save(h)
    data = h.read_bytes()
    assert main(["stylize", str(b), str(h), "--out", str(h)]) == 2
    assert "is the input" in capsys.readouterr().err and h.read_bytes() == data
    assert main(["stylize", str(b), str(h), "--out", str(tmp_path / "o.png")]) == 0


def test_a_bundle_that_fails_validation_never_reaches_out(tmp_path):
    from styleforge.export.core.bundle_writer import BundleWriter
    from styleforge.export.core.publish import ExportValidationError, failed_name, publish_bundle
    from styleforge.runtime.manifest import GraphConfig
    from helpers import scale_graph

    def bad(path):  # golden outputs the graph does not produce
        w = BundleWriter(name="bad", method="scale", family="graph", interface="graph", config=GraphConfig())
        w.add_graph("stylize", scale_graph(0.5))
        x = np.ones((1, 3, 4, 4), np.float32)
        w.add_golden("c", "stylize", {"image": x}, {"stylized": x * 7})
        return w.write(path)

    out = write_scale_bundle(tmp_path / "good.sfbundle")
    before = (out / "manifest.json").read_bytes()
    with pytest.raises(ExportValidationError, match="is unchanged"):
        publish_bundle(bad, out)
    assert (out / "manifest.json").read_bytes() == before
    k = _user_folder(failed_name(out))  # --force keeps a failing bundle beside --out, but never over a user's folder
    with pytest.raises(StyleForgeError, match="not a StyleForge bundle"):
        publish_bundle(bad, out, force=True)
    assert _untouched(k) and (out / "manifest.json").read_bytes() == before


# --- the shared mechanism -----------------------------------------------------------------------------------------

def test_atomic_dir_replaces_only_its_kind_and_fsyncs(tmp_path, monkeypatch):
    from styleforge.runtime import atomic

    user = _user_folder(tmp_path / "x")
    with pytest.raises(StyleForgeError, match="not a StyleForge bundle"):
        with atomic.atomic_dir(user, kind="bundle") as tmp:
            (tmp / "manifest.json").write_text("{}")
    with pytest.raises(StyleForgeError, match="not something StyleForge may replace"):
        with atomic.atomic_dir(user) as tmp:  # no kind: nothing existing is replaced
            pass
    assert _untouched(user) and [p.name for p in tmp_path.iterdir()] == ["x"]
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")) or real(fd))
    b = write_scale_bundle(tmp_path / "b.sfbundle")
    names = [os.path.basename(p) for p in synced]
    assert "stylize.onnx" in names and "manifest.json" in names  # the files, before the rename …
    assert str(tmp_path) in synced  # … and the folder that holds the new name, after it
    assert synced.index(str(tmp_path)) > max(i for i, n in enumerate(names) if n == "manifest.json")
    assert (b / "manifest.json").is_file()


def test_triton_refuses_duplicate_names_empty_names_and_foreign_models(tmp_path, monkeypatch, capsys):
    pytest.importorskip("google.protobuf")
    a = write_scale_bundle(tmp_path / "one" / "m.sfbundle", "stylizer")
    b = write_scale_bundle(tmp_path / "two" / "m.sfbundle", "stylizer")
    repo = tmp_path / "repo"
    assert main(["triton", str(a), str(b), "--out", str(repo)]) == 2
    assert "both give the Triton model name 'm'" in capsys.readouterr().err and not (repo / "m").exists()
    _user_folder(repo / "m")  # a model folder StyleForge did not write
    assert main(["triton", str(a), "--out", str(repo)]) == 2
    assert _untouched(repo / "m")
    shutil.rmtree(repo / "m")
    assert main(["triton", str(a), "--out", str(repo)]) == 0
    assert main(["triton", str(a), "--out", str(repo), "--max-batch", "2"]) == 0  # its own model: replaced
    assert "max_batch_size: 2" in (repo / "m" / "config.pbtxt").read_text()
    monkeypatch.chdir(a)  # `triton .` inside a bundle: named after the folder, never the empty name (the repo root)
    assert main(["triton", ".", "--out", str(repo)]) == 0
    assert (repo / "m" / "config.pbtxt").is_file() and not (repo / "config.pbtxt").exists()
    assert main(["triton", ".", "--out", "."]) == 2  # the repository inside the bundle
    assert "inside the input" in capsys.readouterr().err and not (a / "m").exists()


# --- interrupted updates ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stylizer(tmp_path_factory):
    """A tiny trained stylizer: its run folder, its bundle, and a variant without tiling graphs (convert leaves
    them out), to add them to."""
    pytest.importorskip("torch")
    from helpers import torch_threads
    from styleforge.export.convert.api import convert_bundle
    from styleforge.export.core.api import export_checkpoint
    from styleforge.train.stylizer.trainer import train_stylizer

    d = tmp_path_factory.mktemp("safety_stylizer")
    with torch_threads(1):
        train_stylizer(["sample:mosaic"], d / "run", steps=1, size=32, batch=1, width_mult=0.125, progress=False)
        bundle = export_checkpoint(d / "run", d / "sty.sfbundle")
    plain, _ = convert_bundle(bundle, d / "plain.sfbundle", validate=False)
    return {"run": d / "run", "bundle": bundle, "plain": plain}


def test_an_interrupted_tiling_add_is_finished_by_a_rerun(stylizer, tmp_path, monkeypatch):
    """Before: the weights file an interrupted run left made every rerun fail ("... has no sha256")."""
    from styleforge.export.tiling.commands import add_tiling_to_bundle
    from styleforge.runtime import bundle as bundle_mod, load

    b = tmp_path / "p.sfbundle"
    shutil.copytree(stylizer["plain"], b)
    real = bundle_mod.update_bundle

    def killed_before_the_manifest(path, add_files=None, patch=None):  # the files are written, the manifest is not
        def die(m):
            raise KeyboardInterrupt
        return real(path, add_files=add_files, patch=die)

    monkeypatch.setattr(bundle_mod, "update_bundle", killed_before_the_manifest)
    with pytest.raises(KeyboardInterrupt):
        add_tiling_to_bundle(b)
    monkeypatch.setattr(bundle_mod, "update_bundle", real)
    assert (b / "stylize.tiling-weights.bin").exists()  # left behind, unlisted
    assert load(b).manifest.tiling == []  # the old bundle, still valid
    assert add_tiling_to_bundle(b) == ["stylize"]
    m = load(b, backend="ort-cpu").manifest  # every file's sha256 checked
    assert m.tiling[0].weights == "stylize.tiling-weights.bin" and "stylize.tiling-weights.bin" in m.files
    assert not [p.name for p in b.iterdir() if ".tiling-weights." in p.name and p.name != "stylize.tiling-weights.bin"]


# --- bundles are data, not code -----------------------------------------------------------------------------------

def _edit_manifest(bundle, fn, *, digest: bool = True):
    from styleforge.runtime.manifest import DIGEST_FIELD, manifest_digest

    m = json.loads((bundle / "manifest.json").read_text())
    fn(m)
    m.pop(DIGEST_FIELD, None)
    if digest:
        m[DIGEST_FIELD] = manifest_digest(m)
    (bundle / "manifest.json").write_text(json.dumps(m))


def test_a_manifest_without_digest_needs_allow_legacy_manifest(tmp_path, capsys):
    """Before: `schema_version: 2` without a digest loaded, unchecked."""
    from styleforge.runtime import load
    from styleforge.runtime.bundle import allow_legacy_manifests, open_bundle

    b = write_scale_bundle(tmp_path / "old.sfbundle", "stylizer")
    _edit_manifest(b, lambda m: m.update(schema_version=2), digest=False)
    with pytest.raises(StyleForgeError, match="without manifest_sha256.*--allow-legacy-manifest"):
        open_bundle(b)
    with pytest.raises(StyleForgeError, match="allow-legacy-manifest"):
        load(b)
    assert load(b, allow_legacy_manifest=True).manifest.schema_version == 2
    with allow_legacy_manifests():
        assert open_bundle(b).name == "scale-test"
    assert main(["validate", str(b)]) == 2 and "--allow-legacy-manifest" in capsys.readouterr().err
    assert main(["validate", str(b), "--allow-legacy-manifest"]) == 0
    from styleforge.runtime.cli import build_cli

    flagged = {p.prog.split(" ", 1)[1] for p in build_cli().commands
               if any(a.dest == "allow_legacy_manifest" for a in p._actions)}
    assert {"stylize", "translate", "generate", "validate", "serve", "bench", "convert", "triton", "tiling add",
            "engine build"} <= flagged


def test_a_graph_is_hash_checked_when_it_is_opened_not_only_at_load(stylizer, tmp_path):
    """Before: tiling graphs, opened on the first large image, were read straight from the path unchecked."""
    from styleforge.runtime import load

    b = tmp_path / "s.sfbundle"
    shutil.copytree(stylizer["bundle"], b)
    model = load(b, backend="ort-cpu", threads=1)
    assert model.bundle.graph_bytes("stylize") == (b / "stylize.onnx").read_bytes()
    tiled = b / model.manifest.graph("stylize.tiled").file
    tiled.write_bytes(tiled.read_bytes() + b"\x00")  # a bundle changed in place after load()
    image = np.full((40, 40, 3), 120, np.uint8)
    with pytest.raises(StyleForgeError, match="no longer matches its sha256"):
        model.stylize_tiled(image, tile=32)
    shutil.rmtree(b)
    shutil.copytree(stylizer["bundle"], b)
    model = load(b, backend="ort-cpu", threads=1)
    weights = b / model.manifest.tiling[0].weights
    weights.write_bytes(weights.read_bytes()[::-1])  # the tiling graphs' external weights
    with pytest.raises(StyleForgeError, match="external data"):
        model.stylize_tiled(image, tile=32)


def test_tiled_runners_are_built_once_under_concurrency(stylizer):
    import threading

    from styleforge.runtime import load

    model = load(stylizer["bundle"], backend="ort-cpu", threads=1)
    got, start = [], threading.Barrier(4)

    def build():
        start.wait()
        got.append(model.tiled("stylize", tile=32))

    threads = [threading.Thread(target=build) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and len({id(r) for r in got}) == 1


def _external_graph(folder, location: str):
    """A graph whose weight lives in an external file named `location` (relative to `folder`)."""
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.full((1, 3, 1, 1), 0.5, np.float32), "w")
    w.data_location = TensorProto.EXTERNAL
    w.ClearField("raw_data")
    for k, v in (("location", location), ("offset", "0"), ("length", "12")):
        w.external_data.add(key=k, value=v)
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, "h", "w"])
    y = helper.make_tensor_value_info("stylized", TensorProto.FLOAT, ["n", 3, "h", "w"])
    m = helper.make_model(helper.make_graph([helper.make_node("Mul", ["image", "w"], ["stylized"])], "ext", [x], [y], [w]),
                          opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()


@pytest.mark.parametrize("where", ["../secret.bin", "/tmp/secret.bin", "unlisted.bin", "link.bin"])
def test_external_data_outside_the_bundle_is_refused_at_load(tmp_path, where):
    """Before: the runtime never looked where external_data points (ONNX Runtime's own check is version-dependent)."""
    from styleforge.runtime.bundle import open_bundle

    b = write_scale_bundle(tmp_path / "b.sfbundle", "stylizer")
    (tmp_path / "secret.bin").write_bytes(np.full(3, 0.5, np.float32).tobytes())
    (b / "unlisted.bin").write_bytes((tmp_path / "secret.bin").read_bytes())
    os.symlink(tmp_path / "secret.bin", b / "link.bin")
    data = _external_graph(b, where)
    (b / "stylize.onnx").write_bytes(data)

    def patch(m):
        import hashlib

        m["files"]["stylize.onnx"] = hashlib.sha256(data).hexdigest()
        if where == "link.bin":
            m["files"]["link.bin"] = hashlib.sha256((tmp_path / "secret.bin").read_bytes()).hexdigest()
    _edit_manifest(b, patch)
    with pytest.raises(StyleForgeError, match="outside the bundle|does not list|leads outside") as e:
        open_bundle(b)
    assert "\n" not in str(e.value)


def test_import_onnx_refuses_external_data_outside_the_models_folder(tmp_path, capsys):
    d = tmp_path / "models"
    d.mkdir()
    (tmp_path / "secret.bin").write_bytes(np.full(3, 0.5, np.float32).tobytes())
    (d / "m.onnx").write_bytes(_external_graph(d, "../secret.bin"))
    args = ["import-onnx", str(d / "m.onnx"), "--interface", "stylizer", "--out", str(tmp_path / "x.sfbundle")]
    assert main(args) == 2
    assert "outside the model's folder" in capsys.readouterr().err and not (tmp_path / "x.sfbundle").exists()
    (d / "ok.onnx").write_bytes(_external_graph(d, "w.bin"))
    (d / "w.bin").write_bytes(np.full(3, 0.5, np.float32).tobytes())
    args[1] = str(d / "ok.onnx")
    assert main(args) == 0  # inside its folder: read, and stored inside the bundle's graph


def test_the_protobuf_free_scan_finds_what_onnx_finds():
    from onnx.external_data_helper import _get_all_tensors, uses_external_data
    from styleforge.runtime.onnx_refs import external_data_locations

    data = _external_graph(None, "a/w.bin")
    m = onnx.load_from_string(data)
    want = [e.value for t in _get_all_tensors(m) if uses_external_data(t) for e in t.external_data if e.key == "location"]
    assert external_data_locations(data) == want == ["a/w.bin"]
    sub = onnx.helper.make_graph([], "body", [], [], [onnx.load_from_string(_external_graph(None, "deep.bin")).graph.initializer[0]])
    m.graph.node.append(onnx.helper.make_node("If", ["c"], [], then_branch=sub, else_branch=sub))
    assert external_data_locations(m.SerializeToString()) == ["a/w.bin", "deep.bin"]  # subgraphs, to any depth
    with pytest.raises(StyleForgeError, match="not a readable ONNX model"):
        external_data_locations(b"\x0a\xff\xff\xff")


# --- faults: kill -9, a full disk ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scenarios(stylizer, tmp_path_factory):
    import kill_points

    return kill_points.prepare(tmp_path_factory.mktemp("safety_kills"), run=stylizer["run"])


def test_kill_9_while_writing_leaves_the_old_bundle_or_the_new_one(scenarios):
    """export, convert, import-onnx and tiling add over a good bundle, each SIGKILLed once while it writes and once at
    a random time: afterwards the bundle opens with every sha256 checked (old or new, never neither), and a rerun
    succeeds and sweeps the killed runs' staging folders (benchmarks/abuse_writes.py: 50 kills each)."""
    import random

    import kill_points

    rng = random.Random(20)
    for s in scenarios:
        assert kill_points.kill_once(s, rng, duration=0, while_writing=True) in ("old", "new"), (s.name, s.problems)
        assert kill_points.kill_once(s, rng, duration=4.0) in ("old", "new"), (s.name, s.problems)
        assert kill_points.rerun(s), (s.name, s.problems)
        assert s.counts["broken"] == 0 and not s.problems and kill_points.leftovers(s) == [], (s.name, s.counts)
    assert sum(s.counts["kills"] for s in scenarios) >= 4  # at least the kills while writing hit a running command


def _enospc_when_writing(monkeypatch, where: str):
    """Path.write_bytes fails with ENOSPC for files under a folder whose name contains `where` (a full disk)."""
    import errno
    import pathlib

    real = pathlib.Path.write_bytes

    def full(self, data):
        if where in str(self):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real(self, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", full)


def test_a_full_disk_is_one_line_and_loses_nothing(foreign, imported, stylizer, tmp_path, monkeypatch, capsys):
    from styleforge.runtime.bundle import open_bundle

    b = tmp_path / "b.sfbundle"
    shutil.copytree(imported, b)
    before = (b / "manifest.json").read_bytes()
    _enospc_when_writing(monkeypatch, ".staging")
    assert main(_import_args(foreign, b)) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "unchanged" in err and err.count("\n") == 1 and "Traceback" not in err
    assert (b / "manifest.json").read_bytes() == before and open_bundle(b)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.sfbundle"]  # no staging folder left
    p = tmp_path / "p.sfbundle"
    shutil.copytree(stylizer["plain"], p)
    monkeypatch.undo()
    _enospc_when_writing(monkeypatch, "p.sfbundle")
    assert main(["tiling", "add", str(p)]) == 2
    err = capsys.readouterr().err
    assert "could not update the bundle (No space left on device" in err and err.count("\n") == 1
    monkeypatch.undo()
    assert open_bundle(p).manifest.tiling == [] and main(["tiling", "add", str(p)]) == 0  # space again: it works


def test_a_real_full_disk_on_a_small_tmpfs(foreign, imported, tmp_path, capsys):
    """The same on a real 1 MiB tmpfs filled up (needs root to mount; skipped elsewhere)."""
    import subprocess

    from styleforge.runtime.bundle import open_bundle

    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        b = mnt / "b.sfbundle"
        shutil.copytree(imported, b)
        before = (b / "manifest.json").read_bytes()
        free = shutil.disk_usage(mnt).free
        (mnt / "filler").write_bytes(b"\0" * max(0, free - 16 * 1024))  # 16 KiB left: less than a bundle
        assert main(_import_args(foreign, b)) == 2
        err = capsys.readouterr().err
        assert "No space left on device" in err and err.count("\n") == 1
        assert (b / "manifest.json").read_bytes() == before and open_bundle(b)
        assert sorted(q.name for q in mnt.iterdir()) == ["b.sfbundle", "filler"]
        (mnt / "filler").unlink()
        assert main(_import_args(foreign, b)) == 0
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_engine_build_refuses_a_timing_cache_inside_the_bundle(tmp_path, capsys):
    """The timing cache is rewritten after a build: `--timing-cache B/stylize.onnx` would replace the graph."""
    b = write_scale_bundle(tmp_path / "b.sfbundle", "stylizer")
    graph = (b / "stylize.onnx").read_bytes()
    assert main(["engine", "build", str(b), "--timing-cache", str(b / "stylize.onnx")]) == 2
    assert "--timing-cache" in capsys.readouterr().err and (b / "stylize.onnx").read_bytes() == graph
