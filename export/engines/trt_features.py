"""Every TensorRT feature StyleForge uses, with the release that introduced it, and the one-line refusal when a build
asks this TensorRT for something it does not have (docs/gpu.md "TensorRT version matrix" prints the same table).

Sources, read 2026-12-07: TensorRT's release notes (10.9.0: the SAME_COMPUTE_CAPABILITY hardware-compatibility level
and ahead-of-time Python plugins; 11.0 migration guide: strong typing always on, FP16/INT8 builder flags removed), the
Python API reference of 10.0 and 11.0 (NetworkDefinitionCreationFlag, BuilderFlag, HardwareCompatibilityLevel), and
the ``tensorrt-cu12-bindings`` wheels 10.6.0 … 11.4.0.106 themselves (10.6.0 is the first with ``plugin/``; the
``tensorrt`` front end re-exports it from 10.14). Features present in 10.0's API carry 10.0: StyleForge's floor.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...runtime.errors import StyleForgeError


@dataclass(frozen=True)
class Feature:
    since: tuple[int, int]
    what: str      # how a user meets it
    api: str       # the TensorRT names StyleForge touches


FEATURES: dict[str, Feature] = {
    "engines": Feature((10, 0), "engine build and the tensorrt runner",
                       "named I/O tensors, execute_async_v3, set_memory_pool_limit, ExecutionContextAllocationStrategy"),
    "strongly_typed": Feature((10, 0), "strongly typed networks (precision from the ONNX graph)",
                              "NetworkDefinitionCreationFlag.STRONGLY_TYPED (always on and deprecated from 11.0)"),
    "opt_level": Feature((10, 0), "--opt-level", "IBuilderConfig.builder_optimization_level"),
    "hardware_compatibility:ampere_plus": Feature((10, 0), "--hardware-compatibility ampere_plus",
                                                  "HardwareCompatibilityLevel.AMPERE_PLUS"),
    "hardware_compatibility:same_compute_capability": Feature(
        (10, 9), "--hardware-compatibility same_compute_capability", "HardwareCompatibilityLevel.SAME_COMPUTE_CAPABILITY"),
    "version_compatible": Feature((10, 0), "--version-compatible", "BuilderFlag.VERSION_COMPATIBLE"),
    "timing_cache": Feature((10, 0), "the persistent timing cache",
                            "create_timing_cache, set_timing_cache, ITimingCache.combine/serialize"),
    "python_plugin": Feature((10, 6), "the WhitenColor plugin (--wct plugin graphs)",
                             "tensorrt.plugin: register, impl, TensorDesc, Tensor"),
    "python_plugin_frontend": Feature((10, 14), "`import tensorrt.plugin` from the PyPI wheels",
                                      "before 10.14 only tensorrt_bindings.plugin (StyleForge imports either)"),
    "aot_python_plugin": Feature((10, 9), "ahead-of-time Python plugins (not used: kernels/trt_plugin.py says why)",
                                 "tensorrt.plugin.aot_impl, QuickPluginCreationRequest"),
}


def version_tuple(version: str) -> tuple[int, int]:
    parts = (version.split(".") + ["0"])[:2]
    return tuple(int("".join(c for c in p if c.isdigit()) or 0) for p in parts)  # type: ignore[return-value]


def require(name: str, version: str) -> None:
    """StyleForgeError (one line) unless TensorRT ``version`` has the feature ``name``."""
    f = FEATURES[name]
    if version_tuple(version) < f.since:
        raise StyleForgeError(f"{f.what} needs TensorRT >= {f.since[0]}.{f.since[1]} ({f.api}); this is TensorRT {version}")


def check_build(options, version: str, *, plugins: bool, what: str = "") -> None:
    """Refuse, before any work, a build this TensorRT cannot make or StyleForge cannot stand behind."""
    require("engines", version)
    if options.hardware_compatibility != "none":
        require(f"hardware_compatibility:{options.hardware_compatibility}", version)
    if options.opt_level is not None:
        require("opt_level", version)
    if options.version_compatible:
        require("version_compatible", version)
    if plugins:
        require("python_plugin", version)
        if options.version_compatible:
            raise StyleForgeError(
                f"{what + ': ' if what else ''}--version-compatible with the WhitenColor plugin is refused: a "
                "version-compatible plan runs on its embedded lean runtime, whose plugin registry is its own, and the "
                "Python plugin is registered with the global one only (not verified on a GPU); build without "
                "--version-compatible")


def markdown_table() -> str:
    """The table docs/gpu.md carries (tests/test_kernels_trt.py checks that the two agree)."""
    rows = ["| feature | TensorRT | API |", "|---|---|---|"]
    rows += [f"| {f.what} | {f.since[0]}.{f.since[1]} | {f.api} |" for f in FEATURES.values()]
    return "\n".join(rows)
