"""Cross-check: run StyleForge's kernels/trt_plugin.register_plugin (as committed, and with the one-line
fix) against the REAL tensorrt.plugin Python sources of several TensorRT wheels, on top of a permissive
fake `tensorrt` core (no .so, no GPU). Also differential-test the stub's validation against the real one
on a battery of signatures.

usage: python tests/stubs/verify_trt_stub.py WHEEL_PLUGIN_DIR VERSION TRT_PLUGIN_PY [real|stub]
  real: the wheel's plugin sources (WHEEL_PLUGIN_DIR = an unpacked tensorrt_*_bindings wheel's
        tensorrt_bindings/plugin); stub: tests/stubs/trt on PYTHONPATH. Compare the CASE lines of both.
Wheels are not kept in the repository (NVIDIA licence): pip download --no-deps tensorrt-cu12-bindings==VERSION,
then unzip. Maintainer tool, not part of the suite; run when TensorRT releases a new plugin API.
"""
import importlib.util
import os
import sys
import types
import typing
from typing import List, Tuple

WHEEL_PLUGIN_DIR, VERSION, TRT_PLUGIN_PY = sys.argv[1:4]
MODE = sys.argv[4] if len(sys.argv) > 4 else "real"


class _Meta(type):
    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Dummy()


class _Dummy(metaclass=_Meta):
    def __init__(self, *a, **k):
        pass

    def __call__(self, *a, **k):
        return _Dummy()

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Dummy()


def make_core():
    core = types.ModuleType("tensorrt")
    core.__path__ = []
    core.__version__ = VERSION
    cache = {}

    def __getattr__(name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name not in cache:
            cache[name] = _Meta(name, (_Dummy,), {})
        return cache[name]

    core.__getattr__ = __getattr__
    return core


if MODE == "real":
    sys.modules["tensorrt"] = make_core()
    spec = importlib.util.spec_from_file_location("tensorrt.plugin", os.path.join(WHEEL_PLUGIN_DIR, "__init__.py"),
                                                  submodule_search_locations=[WHEEL_PLUGIN_DIR])
    trtp = importlib.util.module_from_spec(spec)
    sys.modules["tensorrt.plugin"] = trtp
    spec.loader.exec_module(trtp)
    sys.modules["tensorrt"].plugin = trtp
else:  # the stub, found on sys.path
    os.environ["STYLEFORGE_STUB_TRT_VERSION"] = VERSION
    import tensorrt.plugin as trtp  # noqa


def load_trt_plugin(path, fixed):
    src = open(path).read()
    if fixed:
        src = src.replace("from __future__ import annotations\n", "")
    mod = types.ModuleType("sf_trt_plugin_" + ("fixed" if fixed else "today"))
    mod.__file__ = path
    mod.__package__ = "styleforge.kernels"  # relative imports (errors) resolve in the installed package
    exec(compile(src, path, "exec"), mod.__dict__)
    return mod


results = {}
for fixed in (False, True):
    m = load_trt_plugin(TRT_PLUGIN_PY, fixed)
    try:
        m.register_plugin()
        results["fixed" if fixed else "today"] = "OK"
    except Exception as e:  # noqa: BLE001
        results["fixed" if fixed else "today"] = f"{type(e).__name__}: {str(e)[:110]}"
    # fresh registry for the second run
    if fixed is False:
        for k in list(sys.modules):
            pass
        lib = sys.modules.get("tensorrt.plugin._lib")
        if lib is not None:
            lib.QDP_REGISTRY.pop("styleforge::WhitenColor", None)
            if "styleforge" in lib.op.__dict__:
                del lib.op.__dict__["styleforge"]

# differential battery: (label, register source, impl source) -- outcome type only
TD, T = trtp.TensorDesc, trtp.Tensor
battery = []


def case(label, reg=None, imp=None, pid=None):
    battery.append((label, reg, imp, pid))


def r_ok(a: TD, x: float) -> TD: ...
def r_str(a: "TD", x: float) -> TD: ...
def r_attrstr(a: TD, x: "float") -> TD: ...
def r_retstr(a: TD, x: float) -> "TD": ...
def r_tuple(a: TD, b: TD, x: int) -> Tuple[TD, TD]: ...
def r_inter(a: TD, x: int, b: TD) -> TD: ...
def r_noann(a: TD, x) -> TD: ...
def r_default(a: TD, x: int = 1) -> TD: ...
def r_attrfirst(x: int, a: TD) -> TD: ...
def r_badtype(a: TD, x: list) -> TD: ...
def r_disallowed(a: TD, stream: int) -> TD: ...
def r_noret(a: TD, x: int): ...
def r_varargs(a: TD, *x: int) -> TD: ...
import numpy as _np
import numpy.typing as _npt
def r_nd(a: TD, x: _npt.NDArray[_np.float32], n: _npt.NDArray[_np.int32]) -> TD: ...
def r_ndraw(a: TD, x: _np.ndarray) -> TD: ...
def r_ndbad(a: TD, x: _npt.NDArray[_np.complex64]) -> TD: ...
def i_nd(a: T, x: _npt.NDArray[_np.float32], n: _npt.NDArray[_np.int32], outputs: Tuple[T], stream: int) -> None: ...
def i_ndwrong(a: T, x: _npt.NDArray[_np.float64], n: _npt.NDArray[_np.int32], outputs: Tuple[T], stream: int) -> None: ...
def i_ok(a: T, x: float, outputs: Tuple[T], stream: int) -> None: ...
def i_none_str(a: T, x: float, outputs: Tuple[T], stream: int) -> "None": ...
def i_str(a: "T", x: float, outputs: Tuple[T], stream: int) -> None: ...
def i_order(a: T, outputs: Tuple[T], x: float, stream: int) -> None: ...
def i_subset(a, outputs, stream): ...
def i_wrongattr(a: T, x: int, outputs: Tuple[T], stream: int) -> None: ...
def i_outlist(a: T, x: float, outputs: List[T], stream: int) -> None: ...
def i_tactic(a: T, x: float, outputs: Tuple[T], stream: int, tactic: int) -> None: ...

for lbl, f in [("ok", r_ok), ("str-tensor", r_str), ("str-attr", r_attrstr), ("str-ret", r_retstr), ("tuple", r_tuple),
               ("interspersed", r_inter), ("no-annot", r_noann), ("default", r_default), ("attr-first", r_attrfirst),
               ("bad-type", r_badtype), ("disallowed", r_disallowed), ("no-ret", r_noret), ("varargs", r_varargs),
               ("ndarray", r_nd), ("ndarray-raw", r_ndraw), ("ndarray-complex", r_ndbad)]:
    case("register:" + lbl, reg=f)
for lbl, f in [("ok", i_ok), ("none-str", i_none_str), ("str-tensor", i_str), ("order", i_order), ("subset", i_subset),
               ("wrong-attr-type", i_wrongattr), ("outputs-list", i_outlist), ("tactic", i_tactic)]:
    case("impl:" + lbl, reg=r_ok, imp=f)
case("impl:ndarray", reg=r_nd, imp=i_nd)
case("impl:ndarray-wrong-dtype", reg=r_nd, imp=i_ndwrong)
for pid in ["noseparator", "a::b::c", "trt::x", "::x", "a.b::x", "ns::a.b"]:
    case("id:" + pid, reg=r_ok, pid=pid)

out = []
for n, (label, reg, imp, pid) in enumerate(battery):
    plugin_id = pid or f"chk{n}::p"
    try:
        trtp.register(plugin_id)(reg)
        if imp is not None:
            trtp.impl(plugin_id)(imp)
        out.append((label, "OK"))
    except Exception as e:  # noqa: BLE001
        out.append((label, type(e).__name__))
print("RESULT", VERSION, MODE, results)
for label, res in out:
    print("CASE", label, res)


# ---- plugin creation from ONNX-parser fields with the REAL creator code (numpy-version sensitive)
def create_from_onnx_fields(plugin_py, fixed):
    import numpy as np
    lib = sys.modules["tensorrt.plugin._lib"] if MODE == "real" else None
    if lib is None:
        return "skipped (stub)"
    lib.QDP_REGISTRY.pop("styleforge::WhitenColor", None)
    lib.op.__dict__.pop("styleforge", None)
    m = load_trt_plugin(plugin_py, fixed)
    m.register_plugin()
    d = lib.QDP_REGISTRY["styleforge::WhitenColor"]

    class F:
        def __init__(self, name, data):
            self.name, self.data = name, data
    # onnx-tensorrt loadFields: FLOAT attribute -> kFLOAT32 (1 value), INT -> kINT32 (1 value)
    fields = [F("alpha", np.array([1.0], np.float32)), F("reg", np.array([1e-2], np.float32)),
              F("color_reg", np.array([1e-4], np.float32)), F("iters", np.array([20], np.int32))]
    attrs_types = sys.modules["tensorrt.plugin._validate"]._parse_register_inputs(d.register_func, False)[3]
    creator = lib._TemplatePluginCreator("WhitenColor", "styleforge", attrs_types)
    try:
        plg = creator.create_plugin("WhitenColor", "styleforge", fields, None)
        return "OK " + repr({k: type(v).__name__ for k, v in getattr(plg, "attrs", {}).items()})
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {str(e)[:90]}"


if MODE == "real" and len(sys.argv) > 5:
    import numpy
    print("CREATE", VERSION, "numpy", numpy.__version__, sys.argv[5], create_from_onnx_fields(sys.argv[5], False))
