"""Issue 14 #9 and #10: installs that tell the truth. Dependency floors match what the code uses, the runtime tests
run with the runtime alone (no torch, no onnx: what .ci/run's second step does in a bare venv), and the package
metadata (license, URLs, classifiers, py.typed) is complete."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def _floor(reqs: list[str], name: str) -> str:
    spec = next(r for r in reqs if re.match(rf"{re.escape(name)}\b", r))
    return spec[len(name):]


def test_dependency_floors_match_what_the_code_uses():
    assert _floor(PROJECT["dependencies"], "onnxruntime") == ">=1.19"      # 1.17 breaks with numpy 2, 1.18 pins < 2
    extras = PROJECT["optional-dependencies"]
    assert _floor(extras["train"], "torch") == ">=2.4"                      # custom_op, register_fake/_autograd
    assert any(r.startswith("onnxscript") for r in extras["train"])          # --exporter dynamo
    for extra in ("gpu", "gpu-ort", "tensorrt"):                             # CUDA 12: the README's cu128 torch build
        assert _floor(extras[extra], "cuda-python") == ">=12.6.2.post1,<13", extra
    # one CUDA major per extra (runtime/cuda_stack.py): onnxruntime-gpu's PyPI wheels are CUDA 13 from 1.27;
    # the `tensorrt` metapackage is CUDA 13 from 11.0, so the CUDA 12 extra names tensorrt-cu12 (and NVRTC 12)
    assert _floor(extras["gpu-ort"], "onnxruntime-gpu") == ">=1.19,<1.27" and _floor(extras["tensorrt"], "tensorrt-cu12") == ">=10.6"
    assert not any(re.match(r"tensorrt\b(?!-)", r) for r in extras["tensorrt"])
    assert any(r.startswith("nvidia-cuda-nvrtc-cu12") for r in extras["tensorrt"])
    assert _floor(extras["ort-trt"], "tensorrt-cu12") == ">=10.9,<11"       # ONNX Runtime's TensorRT provider: TensorRT 10
    assert all("cu13" in r or "nvrtc>=13" in r or "cuda-python>=13" in r for r in extras["tensorrt-cu13"])


def test_metadata_license_urls_classifiers_py_typed():
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]        # PEP 639
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    assert any(r.startswith("setuptools>=77") for r in PYPROJECT["build-system"]["requires"])  # PEP 639 needs 77
    assert set(PROJECT["urls"]) >= {"Homepage", "Documentation", "Issues"}
    assert "Typing :: Typed" in PROJECT["classifiers"] and not any("License ::" in c for c in PROJECT["classifiers"])
    data = PYPROJECT["tool"]["setuptools"]["package-data"]
    for folder, package in (("train", "train"), ("export", "export"), ("runtime", "runtime"), ("kernels", "kernels")):
        assert (REPO / folder / "py.typed").is_file() and "py.typed" in data[f"styleforge.{package}"]


def test_deprecation_warnings_are_not_hidden():
    filters = PYPROJECT["tool"]["pytest"]["ini_options"]["filterwarnings"]
    assert "ignore::DeprecationWarning" not in filters
    assert "error::DeprecationWarning:styleforge" in filters                 # ours fail the test that raises them


def test_ci_runs_the_runtime_alone_in_a_bare_venv():
    ci = (REPO / ".ci" / "run").read_text()
    assert "STYLEFORGE_CI_BUNDLES" in ci and "-m venv" in ci and "-m runtime" in ci
    assert re.search(r'pip install .*\s\.\s+pytest', ci)                    # `.` without extras: the runtime alone
    assert "styleforge\" stylize" in ci and "styleforge\" validate" in ci


def test_runtime_tests_run_without_torch_or_onnx(tmp_path):
    """The tests marked `runtime` run with torch, onnx, SciPy and scikit-image unavailable (imports blocked), on the
    prebuilt bundles the full suite leaves in $STYLEFORGE_CI_BUNDLES, and at least 60 of them pass: what .ci/run's
    bare-venv step runs."""
    pytest.importorskip("onnx")  # this test builds the prebuilt bundles
    from helpers import SCALE_VARIANTS, prebuilt_name, write_scale_bundle

    for interface, factor in SCALE_VARIANTS:
        write_scale_bundle(tmp_path / "ci" / prebuilt_name(interface, factor), interface, factor)
    code = ("import sys\n"
            "for m in ('torch', 'onnx', 'scipy', 'skimage', 'sklearn'):\n"
            "    sys.modules[m] = None\n"
            "import pytest\n"
            f"sys.exit(pytest.main(['-q', '-m', 'runtime', '-p', 'no:cacheprovider', '-o', 'addopts=', {str(REPO / 'tests')!r}]))\n")
    env = {**os.environ, "STYLEFORGE_CI_BUNDLES": str(tmp_path / "ci")}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    tail = p.stdout[-3000:] + p.stderr[-2000:]
    assert p.returncode == 0, tail
    passed = int(re.search(r"(\d+) passed", p.stdout).group(1))
    assert passed >= 60 and " failed" not in p.stdout and " error" not in p.stdout, tail
