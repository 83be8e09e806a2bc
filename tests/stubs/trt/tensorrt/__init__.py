"""A stub of NVIDIA TensorRT's Python package for machines without a GPU or TensorRT.

It imports like the real one (``import tensorrt as trt``; ``import tensorrt.plugin as trtp``),
exposes ``__version__``, the enums/classes StyleForge touches, and the real ``tensorrt.plugin``
decorators' signature validation (see plugin/_validate.py), but it has NO engine support:
creating a builder or deserialising an engine raises :class:`StubEngineSupportError`.

Environment knobs (read at import time):

``STYLEFORGE_STUB_TRT_VERSION``  version string to report (default ``10.16.1.11``; the PyPI wheels
    report 4 components MAJOR.MINOR.PATCH.BUILD, e.g. ``tensorrt_bindings/__init__.py``:
    ``__version__ = "10.9.0.34"``; 10.6.0 reported ``"10.6.0"``). The version selects the
    version-dependent behaviour below.
``STYLEFORGE_STUB_TRT_SIM``      ``1``: engine support simulated on the CPU (``_sim.py``: Builder, OnnxParser and
    Runtime over onnxruntime, reproducing TensorRT's profile/context rules); needs the cuda stub's
    simulated GPU (``STYLEFORGE_STUB_CUDA=sim``). Default: no engine support.
``STYLEFORGE_STUB_TRT_LAYOUT``   ``pip`` (default) or ``tarball``. With ``pip`` and
    10.6 <= version < 10.14, ``import tensorrt.plugin`` fails exactly like the split PyPI
    wheels of those releases (the ``tensorrt`` front-end package had no ``plugin`` sub-package
    before 10.14; only ``tensorrt_bindings.plugin`` existed). Before 10.6 there is no
    ``tensorrt.plugin`` at all.

Version-dependent facts reproduced (sources in NOTES.md):
- NetworkDefinitionCreationFlag: TRT 10: EXPLICIT_BATCH=0 (deprecated, ignored), STRONGLY_TYPED=1,
  PREFER_JIT_PYTHON_PLUGINS=2, PREFER_AOT_PYTHON_PLUGINS=3; TRT 11: STRONGLY_TYPED=0 (deprecated,
  always on), PREFER_JIT_PYTHON_PLUGINS=1, PREFER_AOT_PYTHON_PLUGINS=2, no EXPLICIT_BATCH
  (include/NvInfer.h, tags v10.16 and v11.1).
- BuilderFlag.FP16/BF16/INT8 (weak typing) exist in TRT 10 only (python/src/infer/pyCore.cpp, v10.16 vs v11.1).
- tensorrt.plugin is NVIDIA's own plugin layer where its wheel of the same release is here, else the project's
  stand-in (``_own_plugin.py``, which models the releases' differences); see plugin/__init__.py.
- QuickPluginCreationRequest / aot_impl exist from 10.9 (plugin/_export.py IS_AOT_ENABLED).
"""
from __future__ import annotations

import enum as _enum
import os as _os
import sys as _sys

__version__ = _os.environ.get("STYLEFORGE_STUB_TRT_VERSION", "10.16.1.11")
__stub__ = True  # lets tests and `styleforge doctor` tell the stub from the real thing


def _vtuple(v: str) -> tuple[int, int]:
    parts = [p for p in v.split(".")[:2]]
    return tuple(int("".join(ch for ch in p if ch.isdigit()) or 0) for p in parts)  # type: ignore[return-value]


_V = _vtuple(__version__)
_LAYOUT = _os.environ.get("STYLEFORGE_STUB_TRT_LAYOUT", "pip")


class StubEngineSupportError(RuntimeError):
    """Raised by every operation that would need a real TensorRT + GPU (build, deserialise, run)."""


def _no_engine(what: str):
    raise StubEngineSupportError(
        f"stub tensorrt {__version__}: {what} needs a real TensorRT and an NVIDIA GPU; this stub "
        "(STYLEFORGE stub_tensorrt) has no engine support")


# ------------------------------------------------------------------------------------------ enums
class _IntEnum(_enum.IntEnum):
    def __repr__(self):
        return f"<{type(self).__name__}.{self.name}: {int(self)}>"


class DataType(_IntEnum):  # include/NvInferRuntimeBase.h enum class DataType
    FLOAT = 0
    HALF = 1
    INT8 = 2
    INT32 = 3
    BOOL = 4
    UINT8 = 5
    FP8 = 6
    BF16 = 7
    INT64 = 8
    INT4 = 9
    FP4 = 10

    @property
    def itemsize(self):
        return {0: 4, 1: 2, 2: 1, 3: 4, 4: 1, 5: 1, 6: 1, 7: 2, 8: 8, 9: 0.5, 10: 0.5}[int(self)]


float32, float16, int8, int32, bool, uint8, fp8, bfloat16, int64, int4, fp4 = (  # noqa: A001 (as in the real module)
    DataType.FLOAT, DataType.HALF, DataType.INT8, DataType.INT32, DataType.BOOL, DataType.UINT8, DataType.FP8,
    DataType.BF16, DataType.INT64, DataType.INT4, DataType.FP4)


class TensorIOMode(_IntEnum):  # include/NvInferRuntimeBase.h
    NONE = 0
    INPUT = 1
    OUTPUT = 2


class TensorFormat(_IntEnum):
    LINEAR = 0


class MemoryPoolType(_IntEnum):  # include/NvInfer.h enum class MemoryPoolType
    WORKSPACE = 0
    DLA_MANAGED_SRAM = 1
    DLA_LOCAL_DRAM = 2
    DLA_GLOBAL_DRAM = 3
    TACTIC_DRAM = 4


# include/NvInfer.h; SAME_COMPUTE_CAPABILITY from 10.9 (TensorRT 10.9.0 release notes)
HardwareCompatibilityLevel = _IntEnum("HardwareCompatibilityLevel", {
    "NONE": 0, "AMPERE_PLUS": 1, **({"SAME_COMPUTE_CAPABILITY": 2} if _V >= (10, 9) else {})})


class ExecutionContextAllocationStrategy(_IntEnum):  # include/NvInferRuntime.h
    STATIC = 0
    ON_PROFILE_CHANGE = 1
    USER_MANAGED = 2


class TensorRTPhase(_IntEnum):
    BUILD = 0
    RUNTIME = 1


class PluginFieldType(_IntEnum):  # include/NvInferPluginBase.h
    FLOAT16 = 0
    FLOAT32 = 1
    FLOAT64 = 2
    INT8 = 3
    INT16 = 4
    INT32 = 5
    CHAR = 6
    DIMS = 7
    UNKNOWN = 8
    BF16 = 9
    INT64 = 10
    FP8 = 11
    INT4 = 12
    FP4 = 13


if _V >= (11, 0):
    NetworkDefinitionCreationFlag = _IntEnum("NetworkDefinitionCreationFlag", {
        "STRONGLY_TYPED": 0, "PREFER_JIT_PYTHON_PLUGINS": 1, "PREFER_AOT_PYTHON_PLUGINS": 2})
    BuilderFlag = _IntEnum("BuilderFlag", {
        "DEBUG": 1, "GPU_FALLBACK": 2, "REFIT": 3, "DISABLE_TIMING_CACHE": 4, "TF32": 5,
        "SPARSE_WEIGHTS": 6, "SAFETY_SCOPE": 7, "DIRECT_IO": 11, "VERSION_COMPATIBLE": 12,
        "EXCLUDE_LEAN_RUNTIME": 13, "STRIP_PLAN": 18})
else:
    NetworkDefinitionCreationFlag = _IntEnum("NetworkDefinitionCreationFlag", {
        "EXPLICIT_BATCH": 0, "STRONGLY_TYPED": 1, "PREFER_JIT_PYTHON_PLUGINS": 2, "PREFER_AOT_PYTHON_PLUGINS": 3})
    BuilderFlag = _IntEnum("BuilderFlag", {
        "FP16": 0, "INT8": 1, "DEBUG": 2, "GPU_FALLBACK": 3, "REFIT": 4, "DISABLE_TIMING_CACHE": 5, "TF32": 6,
        "SPARSE_WEIGHTS": 7, "SAFETY_SCOPE": 8, "OBEY_PRECISION_CONSTRAINTS": 9, "PREFER_PRECISION_CONSTRAINTS": 10,
        "DIRECT_IO": 11, "REJECT_EMPTY_ALGORITHMS": 12, "VERSION_COMPATIBLE": 13, "EXCLUDE_LEAN_RUNTIME": 14,
        "FP8": 15, "ERROR_ON_TIMING_CACHE_MISS": 16, "BF16": 17, "STRIP_PLAN": 19})
# NOTE: only the *names* of BuilderFlag members are meant to be relied on (FP16 exists in 10.x only);
# the numeric values above are placeholders, not TensorRT's.

if _V >= (10, 9):
    class QuickPluginCreationRequest(_IntEnum):  # include/impl/NvInferPythonPlugin.h
        UNKNOWN = 0
        PREFER_JIT = 1
        PREFER_AOT = 2
        STRICT_JIT = 3
        STRICT_AOT = 4


# ----------------------------------------------------------------------------------------- logger
class _Severity(_IntEnum):
    INTERNAL_ERROR = 0
    ERROR = 1
    WARNING = 2
    INFO = 3
    VERBOSE = 4


class ILogger:
    Severity = _Severity

    def log(self, severity, msg):  # pragma: no cover - overridden
        pass


class Logger(ILogger):
    """Like trt.Logger: prints messages at or above ``min_severity`` to stderr."""

    Severity = _Severity
    INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = (_Severity.INTERNAL_ERROR, _Severity.ERROR, _Severity.WARNING,
                                                     _Severity.INFO, _Severity.VERBOSE)

    def __init__(self, min_severity=_Severity.WARNING):
        self.min_severity = min_severity

    def log(self, severity, msg):
        if int(severity) <= int(self.min_severity):
            tag = {0: "F", 1: "E", 2: "W", 3: "I", 4: "V"}[int(severity)]
            print(f"[TRT-stub] [{tag}] {msg}", file=_sys.stderr)


# ------------------------------------------------------------------------- builder/runtime (no engines)
class Builder:
    def __init__(self, logger=None):
        _no_engine("trt.Builder (building an engine)")


class Runtime:
    def __init__(self, logger=None):
        self.logger = logger

    def deserialize_cuda_engine(self, serialized_engine):
        _no_engine("Runtime.deserialize_cuda_engine (loading an engine)")


class OnnxParser:
    def __init__(self, network=None, logger=None):
        _no_engine("trt.OnnxParser")


# ------------------------------------------------------------------- plugin registry (for trtp.register)
class PluginField:
    def __init__(self, name="", data=None, type=PluginFieldType.UNKNOWN):  # noqa: A002
        self.name, self.data, self.type = name, data, type


class PluginFieldCollection(list):
    pass


class IPluginCreatorV3Quick:
    def __init__(self):
        pass


class IPluginV3:
    def __init__(self):
        pass


class IPluginV3QuickCore:  # a capability interface beside IPluginV3, not below it
    pass


class IPluginV3QuickBuild:  # a capability interface beside IPluginV3, not below it
    pass


class IPluginV3QuickRuntime:  # a capability interface beside IPluginV3, not below it
    pass


class ITensor:
    pass


if _V >= (10, 9):
    class IPluginV3QuickAOTBuild:  # a capability interface beside IPluginV3, not below it
        pass


class _PluginRegistry:
    def __init__(self):
        self._creators: dict[tuple[str, str, str], object] = {}

    def register_creator(self, creator, namespace=""):
        key = (creator.name, creator.plugin_version, namespace)
        if key in self._creators:
            return False
        self._creators[key] = creator
        return True

    def get_creator(self, name, version, namespace=""):
        return self._creators.get((name, version, namespace))

    @property
    def all_creators(self):
        return list(self._creators.values())


_REGISTRY = _PluginRegistry()


def get_plugin_registry():
    return _REGISTRY


def init_libnvinfer_plugins(logger=None, namespace=""):
    return True


# ------------------------------------------- what NVIDIA's Python plugin layer (tensorrt.plugin) asks of the core
# Written here from the class and method names the layer calls (tensorrt_bindings/plugin/*.py); the compiled core
# (tensorrt.so, which needs libnvinfer) is what these stand for. Shapes are constants only: enough for the
# plugin's output-shape callback and enqueue with concrete sizes.
class Dims(tuple):
    """trt.Dims: a shape. ``Dims(n)`` for an int n is n unknown (-1) extents (the layer builds an empty one
    with ``Dims(0)``)."""

    MAX_DIMS = 8

    def __new__(cls, shape=()):
        return super().__new__(cls, (-1,) * shape if isinstance(shape, int) else (int(d) for d in shape))


class DimensionOperation(_IntEnum):  # include/NvInferRuntime.h
    SUM = 0
    PROD = 1
    MAX = 2
    MIN = 3
    SUB = 4
    EQUAL = 5
    LESS = 6
    FLOOR_DIV = 7
    CEIL_DIV = 8


class IDimensionExpr:
    """One extent as the builder sees it; here always a known integer."""

    def __init__(self, value: int):
        self._value = int(value)

    def is_constant(self) -> bool:
        return True

    def get_constant_value(self) -> int:
        return self._value

    def is_size_tensor(self) -> bool:
        return False


class IExprBuilder:
    """Makes and combines extents (constant folding only)."""

    _OPS = {DimensionOperation.SUM: lambda a, b: a + b, DimensionOperation.PROD: lambda a, b: a * b,
            DimensionOperation.MAX: max, DimensionOperation.MIN: min, DimensionOperation.SUB: lambda a, b: a - b,
            DimensionOperation.EQUAL: lambda a, b: int(a == b), DimensionOperation.LESS: lambda a, b: int(a < b),
            DimensionOperation.FLOOR_DIV: lambda a, b: a // b, DimensionOperation.CEIL_DIV: lambda a, b: -(-a // b)}

    def constant(self, value: int) -> IDimensionExpr:
        return IDimensionExpr(value)

    def operation(self, op, first: IDimensionExpr, second: IDimensionExpr) -> IDimensionExpr:
        return IDimensionExpr(self._OPS[DimensionOperation(op)](first.get_constant_value(), second.get_constant_value()))


class DimsExprs(list):
    """trt.DimsExprs(n): n extents, filled in by index."""

    def __init__(self, n=0):
        super().__init__([None] * n if isinstance(n, int) else list(n))


class PluginTensorDesc:
    def __init__(self, dims=(), type=DataType.FLOAT, format=TensorFormat.LINEAR, scale=1.0):  # noqa: A002
        self.dims, self.type, self.format, self.scale = Dims(dims), type, format, scale


class DynamicPluginTensorDesc:
    def __init__(self, desc=None, min=(), opt=(), max=()):  # noqa: A002
        self.desc = desc or PluginTensorDesc()
        self.min, self.opt, self.max = Dims(min), Dims(opt), Dims(max)


class PluginCapabilityType(_IntEnum):
    CORE = 0
    BUILD = 1
    RUNTIME = 2


class PluginArgType(_IntEnum):
    INT = 0


class PluginArgDataType(_IntEnum):
    INT8 = 0
    INT16 = 1
    INT32 = 2


class ISymExpr:
    def __init__(self):
        pass


# --------------------------------------------------------------------------------------- helpers
def volume(shape):
    """Element count of a shape (trt.volume)."""
    import math

    return math.prod(int(d) for d in shape)


_NUMPY_OF = {DataType.FLOAT: "float32", DataType.HALF: "float16", DataType.INT8: "int8", DataType.INT32: "int32",
             DataType.INT64: "int64", DataType.BOOL: "bool", DataType.UINT8: "uint8"}


def nptype(dtype):
    """The numpy scalar type of a TensorRT data type (trt.nptype); TypeError for those numpy has none of (BF16, FP8, ...)."""
    import numpy as np

    if dtype not in _NUMPY_OF:
        raise TypeError(f"{dtype!r} has no numpy counterpart")
    return np.dtype(_NUMPY_OF[dtype]).type


# ---------------------------------------------------------------- which tensorrt.plugin answers (plugin/__init__.py)
def _nvidia_plugin_layer():
    """``(version, folder)`` of NVIDIA's own ``tensorrt.plugin`` sources of this stub's major.minor release, or None.

    Looked for in the folders of ``STYLEFORGE_TRT_PLUGIN_PATH`` (unpacked ``tensorrt-cu12-bindings`` wheels, e.g.
    for the version matrix), then in an installed ``tensorrt-cu12-bindings``/``-cu13-bindings`` wheel (the dev extra
    pins one). ``STYLEFORGE_STUB_TRT_PLUGIN=own`` always answers None (the project's stand-in then)."""
    if _os.environ.get("STYLEFORGE_STUB_TRT_PLUGIN", "auto") == "own":
        return None
    from importlib import metadata
    from pathlib import Path

    found = []
    for folder in filter(None, _os.environ.get("STYLEFORGE_TRT_PLUGIN_PATH", "").split(_os.pathsep)):
        for info in Path(folder).glob("tensorrt*_bindings-*.dist-info"):
            found.append((info.name.removesuffix(".dist-info").split("-")[1], Path(folder, "tensorrt_bindings", "plugin")))
    for name in ("tensorrt-cu12-bindings", "tensorrt-cu13-bindings"):
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found.append((dist.version, Path(dist.locate_file("tensorrt_bindings/plugin"))))
    for version, folder in found:
        if _vtuple(version) == _V and (folder / "__init__.py").is_file():
            return version, folder
    return None


# ---------------------------------------------------- `import tensorrt.plugin` availability by layout
class _BlockPluginFinder:
    """Make ``import tensorrt.plugin`` fail as it does for the split PyPI wheels 10.6-10.13."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "tensorrt.plugin" or fullname.startswith("tensorrt.plugin."):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


if _V < (10, 6) or (_LAYOUT == "pip" and _V < (10, 14)):
    _sys.meta_path.insert(0, _BlockPluginFinder())


if _os.environ.get("STYLEFORGE_STUB_TRT_SIM") == "1":
    from ._sim import SIM_STATS, Builder, OnnxParser, Runtime  # noqa: E402,F401,F811
