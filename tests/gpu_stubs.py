"""Put the TensorRT / cuda-python stubs of tests/stubs on the path for one test (in-process, through the
``gpu_stubs`` fixture) or one subprocess (:func:`stub_env`), never globally: several tests skip when anything
named ``tensorrt`` is importable. See tests/stubs/README.md."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

STUBS = Path(__file__).resolve().parent / "stubs"
TRT_STUB, CUDA_STUB = STUBS / "trt", STUBS / "cuda"
TRT_VERSION = "10.16.1.11"


def purge() -> None:
    """Forget every imported tensorrt / cuda module and the stub's import blocker."""
    for name in list(sys.modules):
        if name in ("tensorrt", "cuda", "tensorrt_bindings") or name.startswith(("tensorrt.", "tensorrt_bindings.", "cuda.")):
            del sys.modules[name]
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "_BlockPluginFinder"]


def stub_env(*, cuda: str | None = "nodriver", engines: bool = False, version: str = TRT_VERSION,
             layout: str = "pip", trt: bool = True, plugin: str = "auto") -> dict:
    """Environment variables for a subprocess that sees the stubs (``cuda``: "nodriver", "sim" or None; ``plugin``:
    "auto" = NVIDIA's tensorrt.plugin layer where its wheel of ``version`` is here, "own" = the stand-in)."""
    paths = ([str(TRT_STUB)] if trt else []) + ([str(CUDA_STUB)] if cuda else [])
    env = {"PYTHONPATH": os.pathsep.join(paths + [os.environ.get("PYTHONPATH", "")]),
           "STYLEFORGE_STUB_TRT_VERSION": version, "STYLEFORGE_STUB_TRT_LAYOUT": layout,
           "STYLEFORGE_STUB_TRT_PLUGIN": plugin}
    if cuda == "sim":
        env["STYLEFORGE_STUB_CUDA"] = "sim"
    if engines:
        env["STYLEFORGE_STUB_TRT_SIM"] = "1"
    return env


@pytest.fixture
def gpu_stubs(monkeypatch, tmp_path):
    """``use(cuda="nodriver"|"sim"|None, engines=False, version=..., layout="pip", trt=True, plugin="auto")``: import-fresh stubs
    for this test (GPU caches under tmp_path); everything is forgotten afterwards."""
    from styleforge.kernels import trt_plugin

    monkeypatch.setenv("STYLEFORGE_CACHE_DIR", str(tmp_path / "cache"))

    def use(**kw):
        purge()
        for k, v in stub_env(**kw).items():
            if k != "PYTHONPATH":
                monkeypatch.setenv(k, v)
        for name in ("STYLEFORGE_STUB_CUDA", "STYLEFORGE_STUB_TRT_SIM"):
            if name not in stub_env(**kw):
                monkeypatch.delenv(name, raising=False)
        if kw.get("cuda", "nodriver"):
            monkeypatch.syspath_prepend(str(CUDA_STUB))
        if kw.get("trt", True):
            monkeypatch.syspath_prepend(str(TRT_STUB))
        monkeypatch.setattr(trt_plugin, "_registered", False)
        monkeypatch.setattr(trt_plugin, "_failed", None)
        if kw.get("cuda", "nodriver"):
            import cuda.bindings

            assert getattr(cuda.bindings, "__stub__", False), f"a real cuda.bindings shadows the stub: {cuda.bindings.__file__}"
        if kw.get("trt", True):
            import tensorrt

            assert getattr(tensorrt, "__stub__", False), "a real tensorrt shadows the stub"
            return tensorrt
        return None

    yield use
    purge()


def nvidia_plugin_versions() -> list[str]:
    """Releases of NVIDIA's ``tensorrt.plugin`` layer the stub core can run here: an installed tensorrt-cu12/cu13-bindings
    wheel (dev extra) and unpacked wheels in the folders of ``STYLEFORGE_TRT_PLUGIN_PATH`` (tensorrt/__init__.py)."""
    from importlib import metadata

    found = set()
    for name in ("tensorrt-cu12-bindings", "tensorrt-cu13-bindings"):
        try:
            found.add(metadata.distribution(name).version)
        except metadata.PackageNotFoundError:
            pass
    for folder in filter(None, os.environ.get("STYLEFORGE_TRT_PLUGIN_PATH", "").split(os.pathsep)):
        found.update(p.name.removesuffix(".dist-info").split("-")[1] for p in Path(folder).glob("tensorrt*_bindings-*.dist-info"))
    return sorted(found)
