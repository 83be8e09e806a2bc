"""Test helpers that need no torch: a hand-made ONNX graph and a bundle around it.

Building the graph needs the ``onnx`` package; without it (the runtime-only CI step) the bundles are copied
from ``$STYLEFORGE_CI_BUNDLES``, where the full suite left them (:func:`leave_for_ci`). Also the helpers test
modules import (:func:`run_cli`): test modules import this module, never conftest.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

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


def run_cli(*args, env=None, check=False, timeout=600):
    """Run `python -m styleforge.runtime.cli ARGS` in a subprocess; returns CompletedProcess."""
    e = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    p = subprocess.run([sys.executable, "-m", "styleforge.runtime.cli", *map(str, args)], capture_output=True,
                       text=True, env=e, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"styleforge {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p

#: the (interface, factor) bundles the runtime tests use, left for the runtime-only CI step
SCALE_VARIANTS = (("graph", 0.5), ("stylizer", 0.5))


def prebuilt_name(interface: str, factor: float) -> str:
    return f"scale-{interface}-{factor}.sfbundle"


def scale_graph(factor: float = 0.5) -> bytes:
    """ONNX graph: image[N,3,H,W] float32 → stylized = clip(image * factor + 10, 0, 255)."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    y = helper.make_tensor_value_info("stylized", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    nodes = [
        helper.make_node("Mul", ["image", "k"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["a"]),
        helper.make_node("Clip", ["a", "lo", "hi"], ["stylized"]),
    ]
    inits = [helper.make_tensor(n, TensorProto.FLOAT, [], [v]) for n, v in (("k", factor), ("b", 10.0), ("lo", 0.0), ("hi", 255.0))]
    g = helper.make_graph(nodes, "scale", [x], [y], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()


def write_scale_bundle(path: Path, interface: str = "graph", factor: float = 0.5) -> Path:
    """A bundle around :func:`scale_graph` (interface ``graph`` runs raw graphs; ``stylizer`` adds image handling)."""
    if importlib.util.find_spec("onnx") is None:
        import pytest

        src = Path(os.environ.get("STYLEFORGE_CI_BUNDLES", "/nonexistent")) / prebuilt_name(interface, factor)
        if not (src / "manifest.json").is_file():
            pytest.skip(f"building a test bundle needs onnx, and no prebuilt {src.name} is in $STYLEFORGE_CI_BUNDLES")
        from styleforge.runtime.atomic import atomic_dir

        with atomic_dir(path, kind="bundle") as tmp:  # replaces a bundle already there, as BundleWriter.write does
            shutil.copytree(src, tmp, dirs_exist_ok=True)
        return Path(path)
    from styleforge.export.core.bundle_writer import BundleWriter
    from styleforge.runtime.manifest import GraphConfig
    from styleforge.runtime.interfaces import load_interfaces

    load_interfaces()
    if interface == "stylizer":
        from styleforge.runtime.families.stylizer import StylizerConfig as Config
    else:
        Config = GraphConfig
    w = BundleWriter(name="scale-test", method="scale", family="graph", interface=interface, config=Config(),
                     loss_network="none")
    w.add_graph("stylize", scale_graph(factor), annotations={
        "image": {"layout": "NCHW", "range": [0, 255], "color_order": "RGB"},
        "stylized": {"layout": "NCHW", "range": [0, 255], "color_order": "RGB"}})
    rng = np.random.default_rng(0)
    for name, shape in (("b1_16x20", (1, 3, 16, 20)), ("b2_9x13", (2, 3, 9, 13))):
        x = rng.uniform(0, 255, shape).astype(np.float32)
        w.add_golden(name, "stylize", {"image": x}, {"stylized": np.clip(x * factor + 10, 0, 255).astype(np.float32)})
    return w.write(path)


def torch_threads(n: int = 1):
    """Context manager: torch uses `n` intra-op threads inside (tiny models: 1 is fastest on shared cores)."""
    import contextlib

    import torch

    @contextlib.contextmanager
    def scope():
        before = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    return scope()
