"""Shared fixtures: tiny sizes keep the suite fast on 2 CPU cores.

Runtime tests (marker ``runtime``) also run in a bare virtual environment with the runtime alone (numpy, Pillow,
onnxruntime; no torch, no onnx): ``.ci/run``'s second step. The first step (the full suite) leaves the bundles
they need in ``$STYLEFORGE_CI_BUNDLES`` (:func:`leave_for_ci`); tests/helpers.py copies them from there when it
cannot build them.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")
#: where the full suite leaves bundles for the runtime-only CI step (unset: nothing is left)
CI_BUNDLES = os.environ.get("STYLEFORGE_CI_BUNDLES")


def leave_for_ci(bundle, name: str) -> None:
    """Copy `bundle` to ``$STYLEFORGE_CI_BUNDLES/NAME`` (when set) for the runtime-only CI step."""
    if not CI_BUNDLES:
        return
    dst = Path(CI_BUNDLES) / name
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(bundle, dst)


@pytest.fixture(scope="session", autouse=True)
def _scale_bundles_for_ci(tmp_path_factory):
    """With $STYLEFORGE_CI_BUNDLES set and onnx present (the full suite): leave the hand-made test bundles there."""
    import importlib.util

    if not CI_BUNDLES or importlib.util.find_spec("onnx") is None:
        yield
        return
    from helpers import SCALE_VARIANTS, prebuilt_name, write_scale_bundle

    d = tmp_path_factory.mktemp("ci-bundles")
    for interface, factor in SCALE_VARIANTS:
        leave_for_ci(write_scale_bundle(d / prebuilt_name(interface, factor), interface, factor),
                     prebuilt_name(interface, factor))
    yield


def run_cli(*args, env=None, check=False, timeout=600):
    """Run `python -m styleforge.runtime.cli ARGS` in a subprocess; returns CompletedProcess."""
    e = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    p = subprocess.run([sys.executable, "-m", "styleforge.runtime.cli", *map(str, args)], capture_output=True,
                       text=True, env=e, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"styleforge {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="module")
def torch_one_thread():
    """Tiny nets: one torch intra-op thread is fastest, and immune to a busy shared machine. A module opts in with
    ``pytestmark = pytest.mark.usefixtures("torch_one_thread")``; the thread count is restored after it."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
