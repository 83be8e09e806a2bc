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
- tensorrt.plugin: annotation checks raise TypeError for string annotations in 10.6-11.1 and
  ValueError from 11.2 on (an ``inspect.isclass`` guard was added); see plugin/_validate.py.
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


class HardwareCompatibilityLevel(_IntEnum):  # include/NvInfer.h
    NONE = 0
    AMPERE_PLUS = 1
    SAME_COMPUTE_CAPABILITY = 2


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


class IPluginV3QuickCore(IPluginV3):
    pass


class IPluginV3QuickBuild(IPluginV3):
    pass


class IPluginV3QuickRuntime(IPluginV3):
    pass


class ITensor:
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


# --------------------------------------------------------------------------------------- helpers
def volume(iterable):
    vol = 1
    for elem in iterable:
        vol *= elem
    return vol


def nptype(trt_type):
    import numpy as np

    mapping = {DataType.FLOAT: np.float32, DataType.HALF: np.float16, DataType.INT8: np.int8,
               DataType.INT32: np.int32, DataType.INT64: np.int64, DataType.BOOL: np.bool_, DataType.UINT8: np.uint8}
    if trt_type in mapping:
        return mapping[trt_type]
    raise TypeError("Could not resolve TensorRT datatype to an equivalent numpy datatype.")


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
