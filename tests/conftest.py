"""Shared fixtures: tiny sizes keep the suite fast on 2 CPU cores.

Runtime tests (marker ``runtime``) also run in a bare virtual environment with the runtime alone (numpy, Pillow,
onnxruntime; no torch, no onnx): ``.ci/run``'s second step. The first step (the full suite) leaves the bundles
they need in ``$STYLEFORGE_CI_BUNDLES`` (:func:`helpers.leave_for_ci`); tests/helpers.py copies them from there
when it cannot build them. Helpers that test modules import (``run_cli``, ``leave_for_ci``) live in tests/helpers.py,
a normal module; this file only holds fixtures, which pytest hands to the tests that name them.
"""
import os

import pytest

from helpers import CI_BUNDLES, leave_for_ci, run_cli

os.environ.setdefault("OMP_NUM_THREADS", "2")


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


@pytest.fixture
def cli():
    """:func:`helpers.run_cli`: ``cli("export", …, check=True)`` runs ``styleforge`` in a subprocess."""
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
