"""Installs that tell the truth, checked on what pip builds and installs, not on the text of pyproject.toml.

The wheel is built once from a copy of the sources (``pip wheel --no-deps``, under tmp_path) and installed into a
folder of its own, from which ``styleforge/train`` and ``styleforge/export`` are then removed (the runtime as it
would ship on its own). From there the runtime must load, validate and run a bundle, and ``styleforge stylize``
must work through the wheel's own console entry point, with every module of the ``train`` extra unavailable
(``sys.modules[name] = None``: an import raises ImportError, ``find_spec`` answers None, as where it is not
installed): .ci/run's second step (a bare venv with ``pip install .``) does the same with a real environment in CI.
"""
from __future__ import annotations

import email
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import textwrap
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("train", "export", "runtime", "kernels")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel pip builds from a copy of the sources (the build writes build/ and *.egg-info beside them)."""
    pytest.importorskip("setuptools")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for folder in FOLDERS:
        shutil.copytree(REPO / folder, src / folder, ignore=skip)
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, src / name)
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                        "--disable-pip-version-check", "-q", "-w", str(tmp / "dist"), str(src)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    (whl,) = (tmp / "dist").glob("styleforge-*.whl")
    return whl


def _metadata(whl: Path) -> email.message.Message:
    with zipfile.ZipFile(whl) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_string(z.read(name).decode())


def _requirement_names(meta, extra: str | None) -> set[str]:
    """Distribution names of the wheel's Requires-Dist: the base ones (extra None) or those of one extra."""
    out = set()
    for req in meta.get_all("Requires-Dist") or []:
        name = re.match(r"[A-Za-z0-9_.-]+", req).group(0).lower().replace("_", "-")
        marker = re.search(r'extra\s*==\s*"([^"]+)"', req)
        if (marker.group(1) if marker else None) == extra:
            out.add(name)
    return out


def _import_names(distributions: set[str]) -> set[str]:
    """Top-level modules the installed `distributions` provide (the ones installed here)."""
    by_module = importlib.metadata.packages_distributions()
    return {m for m, dists in by_module.items()
            if any(d.lower().replace("_", "-") in distributions for d in dists) and not m.startswith("_")}


def test_wheel_holds_every_source_module_and_complete_metadata(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    for folder in FOLDERS:
        sources = {f"styleforge/{folder}/{p.relative_to(REPO / folder).as_posix()}"
                   for p in (REPO / folder).rglob("*.py") if "__pycache__" not in p.parts}
        assert sources and sources <= names, sorted(sources - names)[:5]
        assert f"styleforge/{folder}/py.typed" in names
    assert any(n.startswith("styleforge/runtime/serve/") and n.endswith(".html") for n in names)  # the web page
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"styleforge"}
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    meta = _metadata(wheel)
    assert meta["License-Expression"] == "MIT" and "Typing :: Typed" in meta.get_all("Classifier")
    assert {u.split(",")[0] for u in meta.get_all("Project-URL")} >= {"Homepage", "Documentation", "Issues"}
    base, train = _requirement_names(meta, None), _requirement_names(meta, "train")
    assert {"numpy", "onnxruntime"} <= base and "torch" in train and not base & train  # the runtime pulls no train dep


def test_the_installed_runtime_runs_a_bundle_alone(wheel, tmp_path):
    """Install the wheel alone (no dependencies, its own folder) and remove its train and export layers; with the
    train extra's modules unavailable, load and run a bundle, validate it, and stylize an image through the wheel's
    own ``styleforge`` console entry point."""
    pytest.importorskip("onnx")  # builds the test bundle
    from PIL import Image

    from helpers import write_scale_bundle

    site = tmp_path / "site"
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--disable-pip-version-check",
                        "-q", "--target", str(site), str(wheel)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    for layer in ("train", "export"):
        shutil.rmtree(site / "styleforge" / layer)
    blocked = _import_names(_requirement_names(_metadata(wheel), "train"))
    assert {"torch", "onnx"} <= blocked
    bundle = write_scale_bundle(tmp_path / "s.sfbundle", interface="stylizer")
    Image.fromarray(np.full((10, 14, 3), 100, np.uint8)).save(tmp_path / "in.png")
    code = textwrap.dedent(f"""
        import importlib.metadata, importlib.util, sys, sysconfig
        # started with -S and no PYTHONPATH: site-packages without its .pth hooks (no editable StyleForge), so the
        # wheel's copy is the only styleforge here
        sys.path += [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
        BLOCKED = {sorted(blocked)!r}
        for name in BLOCKED:
            sys.modules[name] = None  # not installed here: import raises ImportError, find_spec answers None
        sys.path.insert(0, {str(site)!r})
        import numpy as np
        import styleforge.runtime
        from styleforge.runtime import load
        assert styleforge.runtime.__file__.startswith({str(site)!r}), styleforge.runtime.__file__
        assert importlib.util.find_spec("styleforge.train") is None  # the train layer is not there
        m = load({str(bundle)!r}, backend="ort-cpu")
        out = m(np.full((10, 14, 3), 100, np.uint8))
        assert out.shape == (10, 14, 3) and int(out[0, 0, 0]) == 60, out[0, 0]
        (dist,) = [d for d in importlib.metadata.distributions(path=[{str(site)!r}]) if d.metadata["Name"] == "styleforge"]
        (script,) = [e for e in dist.entry_points if e.group == "console_scripts" and e.name == "styleforge"]
        styleforge = script.load()
        assert styleforge(["validate", {str(bundle)!r}, "--no-write"]) == 0
        assert styleforge(["stylize", {str(bundle)!r}, {str(tmp_path / 'in.png')!r}, "--out", {str(tmp_path / 'out.png')!r}]) == 0
        loaded = sorted(k for k, v in sys.modules.items() if v is not None and
                        (k.split(".")[0] in BLOCKED or k.startswith(("styleforge.train", "styleforge.export"))))
        assert not loaded, loaded
        print("ok")
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    p = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                       env=env)
    assert p.returncode == 0 and p.stdout.strip().endswith("ok"), p.stdout[-2000:] + p.stderr[-3000:]
    assert np.asarray(Image.open(tmp_path / "out.png")).mean() == pytest.approx(60.0)


def test_a_deprecation_warning_from_styleforge_fails_the_test_and_others_do_not():
    """pytest's configuration turns DeprecationWarnings raised from styleforge code into errors (our code must not
    use deprecated APIs) and leaves those of other packages as warnings."""
    with pytest.raises(DeprecationWarning):
        warnings.warn_explicit("old API", DeprecationWarning, "x.py", 1, module="styleforge.runtime.x")
    with pytest.warns(DeprecationWarning):
        warnings.warn_explicit("old API", DeprecationWarning, "y.py", 1, module="somebody_else")
