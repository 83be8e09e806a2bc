"""kernels/trt_plugin.py against TensorRT's ``tensorrt.plugin`` layer, without TensorRT's compiled core.

Where the ``tensorrt-cu12-bindings`` wheel (dev extra) is installed, the stub core (tests/stubs/trt) runs NVIDIA's own
plugin layer: registration, field parsing and enqueue below are NVIDIA's code. Other releases run on the project's
stand-in (tensorrt/_own_plugin.py), and ``test_stand_in_agrees_with_nvidia_layer`` fails where the stand-in and
NVIDIA's layer disagree on a battery of plugin definitions (every release whose wheel is here: the installed one,
and unpacked ones in ``STYLEFORGE_TRT_PLUGIN_PATH``, which .ci/run fills with 10.6 ... 11.4).

The registration test fails on the module as it was before the fix (``from __future__ import annotations`` made
every annotation of the decorated functions a string); ``load_trt_plugin(future_annotations=True)`` reproduces it.
"""
# NB: no ``from __future__ import annotations`` here: the decorated test functions need real classes.
import importlib.util
import inspect
import os
import typing
from pathlib import Path
from typing import List, Tuple

import numpy as np
import numpy.typing as npt
import pytest

from gpu_stubs import gpu_stubs, nvidia_plugin_versions  # noqa: F401  (fixture)

V10, V11_1, V11_4 = "10.16.1.11", "11.1.0.106", "11.4.0.106"
STRING_ANNOTATION_ERROR = {V10: TypeError, V11_1: TypeError, V11_4: ValueError}
NVIDIA = nvidia_plugin_versions()
WHITEN_COLOR_FIELDS = {"alpha": np.array([0.75], np.float32), "reg": np.array([1e-2], np.float32),
                       "color_reg": np.array([1e-4], np.float32), "iters": np.array([20], np.int32)}


def load_trt_plugin(*, future_annotations=None):
    """A fresh copy of kernels/trt_plugin.py (its ``_registered`` flag unset). ``future_annotations``: None = the
    file as it is; True = with ``from __future__ import annotations`` added (the bug, reproduced)."""
    path = Path(os.environ.get("STYLEFORGE_TRT_PLUGIN_PY") or importlib.util.find_spec("styleforge.kernels.trt_plugin").origin)
    src = path.read_text()
    line = "from __future__ import annotations\n"
    if future_annotations and line not in src:
        src = src.replace('"""\n', '"""\n' + line, 1)
    spec = importlib.util.spec_from_loader("styleforge.kernels._trt_plugin_under_test", loader=None, origin=str(path))
    mod = importlib.util.module_from_spec(spec)
    mod.__file__, mod.__package__ = str(path), "styleforge.kernels"
    exec(compile(src, str(path), "exec"), mod.__dict__)
    return mod


def _is_real_annotation(a) -> bool:
    """What TensorRT's validation can work with: a class, or a typing generic built of classes (Tuple[Tensor],
    NDArray[np.float32]) — no string (or unresolved forward reference) anywhere in it."""
    if isinstance(a, (str, typing.ForwardRef)):
        return False
    return all(_is_real_annotation(x) for x in typing.get_args(a))


def test_the_installed_wheel_runs_as_tensorrt_plugin(gpu_stubs):
    """The dev extra's wheel is what the stub core runs as ``tensorrt.plugin`` for its release."""
    if V11_4 not in NVIDIA:
        pytest.skip(f"tensorrt-cu12-bindings=={V11_4} is not installed (dev extra): NVIDIA's plugin layer is absent")
    gpu_stubs(version=V11_4, layout="tarball")
    import tensorrt.plugin as trtp

    assert trtp.__layer__ == f"nvidia {V11_4}" and Path(trtp.__path__[0]).parts[-2:] == ("tensorrt_bindings", "plugin")
    assert "verify" not in trtp.register.__module__ and trtp.register.__module__ == "tensorrt.plugin._lib"
    gpu_stubs(version=V11_4, layout="tarball", plugin="own")
    import tensorrt.plugin as own

    assert own.__layer__ == "own"


@pytest.mark.parametrize("version", [V10, V11_1, V11_4])
def test_string_annotations_are_refused_as_the_release_does(gpu_stubs, version):
    gpu_stubs(version=version, layout="tarball")
    import tensorrt.plugin as trtp

    def desc(inp: "trtp.TensorDesc", k: float) -> trtp.TensorDesc:  # what postponed evaluation produces
        return inp.like()

    with pytest.raises(STRING_ANNOTATION_ERROR[version]):
        trtp.register("stubcheck::p")(desc)


@pytest.mark.parametrize("version", [V10, V11_1, V11_4])
def test_register_plugin_passes_tensorrt_validation(gpu_stubs, version, monkeypatch):
    """Acceptance: every parameter annotation of the functions the plugin registers is a real class (or a generic
    of classes), TensorRT's layer accepts them and puts a creator with the four attribute fields in the registry."""
    trt = gpu_stubs(version=version, layout="tarball")
    import tensorrt.plugin as trtp

    decorated = []
    for name in ("register", "impl"):
        def recording(plugin_id, *a, _real=getattr(trtp, name), **k):
            def wrap(fn):
                decorated.append(fn)
                return _real(plugin_id, *a, **k)(fn)
            return wrap
        monkeypatch.setattr(trtp, name, recording)
    m = load_trt_plugin()
    m.register_plugin()
    m.register_plugin()  # idempotent
    assert len(decorated) == 2
    for fn in decorated:
        sig = inspect.signature(fn)
        bad = {n: p.annotation for n, p in sig.parameters.items() if not _is_real_annotation(p.annotation)}
        assert bad == {} and _is_real_annotation(sig.return_annotation), (fn.__name__, bad)
    creator = trt.get_plugin_registry().get_creator(m.PLUGIN_NAME, m.PLUGIN_VERSION, m.PLUGIN_NAMESPACE)
    assert creator is not None and [f.name for f in creator.field_names] == list(m.ATTRIBUTES)
    # NDArray attributes: typed fields (FLOAT32, INT32), never UNKNOWN
    assert [f.type for f in creator.field_names] == [trt.PluginFieldType.FLOAT32] * 3 + [trt.PluginFieldType.INT32]


@pytest.mark.parametrize("version", [V10, V11_4])
def test_postponed_annotations_are_rejected_and_wrapped(gpu_stubs, version):
    """Regression guard: with postponed annotations TensorRT refuses the functions; the module turns that into one
    StyleForgeError (which the tensorrt runner and engine build report), remembers it, and never raises an
    ImportError."""
    from styleforge.runtime.errors import StyleForgeError

    gpu_stubs(version=version, layout="tarball")
    m = load_trt_plugin(future_annotations=True)
    with pytest.raises(StyleForgeError, match="could not be registered") as e:
        m.register_plugin()
    assert isinstance(e.value.__cause__, STRING_ANNOTATION_ERROR[version])
    with pytest.raises(StyleForgeError, match=STRING_ANNOTATION_ERROR[version].__name__):
        m.register_plugin()


@pytest.mark.parametrize("version", [V10, V11_1, V11_4])
def test_plugin_created_from_onnx_fields_calls_the_kernels(gpu_stubs, version, monkeypatch):
    """Build/deserialise path, as TensorRT drives it (tensorrt/_host.py): the creator makes the plugin from fields (ONNX
    FLOAT -> 1-element float32 array, INT -> int32), the plugin's callbacks give output type and shape, and enqueue
    calls run_plugin with Python floats/ints. Scalar (float/int) attributes would be converted with ``float(array)``
    by TensorRT 10.6-11.1, which NumPy >= 2.4 refuses; NDArray attributes work on every release and NumPy."""
    trt = gpu_stubs(version=version, layout="tarball")
    m = load_trt_plugin()
    m.register_plugin()
    from tensorrt import _host

    plugin = _host.create(m.PLUGIN_ID, WHITEN_COLOR_FIELDS)
    assert _host.outputs(plugin, [((2, 64, 100), trt.float32), ((1, 64, 80), trt.float32)]) == [((2, 64, 100), trt.float32)]
    calls = []
    monkeypatch.setattr(m, "run_plugin", lambda fc, fs, out, **kw: calls.append((fc, fs, out, kw)))
    _host.enqueue(plugin, [(0x1000, (2, 64, 100), trt.float32), (0x2000, (1, 64, 80), trt.float32)],
                  [(0x3000, (2, 64, 100), trt.float32)], stream=7)
    ((fc, fs, out, kw),) = calls
    assert [(t.data_ptr, tuple(t.shape)) for t in (fc, fs, out)] == [(0x1000, (2, 64, 100)), (0x2000, (1, 64, 80)),
                                                                      (0x3000, (2, 64, 100))]
    assert fc.__cuda_array_interface__["strides"] == (25600, 400, 4)
    assert {k: type(v) for k, v in kw.items()} == {"alpha": float, "reg": float, "color_reg": float,
                                                   "iters": int, "stream": int}
    assert kw == {"alpha": 0.75, "reg": pytest.approx(1e-2), "color_reg": pytest.approx(1e-4), "iters": 20, "stream": 7}
    with pytest.raises(ValueError):  # the run-time tensors are read-only in both layers
        fc.data_ptr = 0


def test_register_plugin_with_split_pip_wheels(gpu_stubs):
    """PyPI wheels 10.6-10.13: ``import tensorrt.plugin`` fails (the ``tensorrt`` front end had no ``plugin``
    package until 10.14); the module exists as ``tensorrt_bindings.plugin``. Before 10.6 there is none: a clear
    StyleForgeError."""
    from styleforge.runtime.errors import StyleForgeError

    gpu_stubs(version="10.9.0.34", layout="pip")
    with pytest.raises(ModuleNotFoundError):
        import tensorrt.plugin  # noqa: F401
    load_trt_plugin().register_plugin()
    gpu_stubs(version="10.5.0", layout="pip")
    with pytest.raises(StyleForgeError, match="needs tensorrt >= 10.6"):
        load_trt_plugin().register_plugin()


# ------------------------------------------------------------------ the stand-in against NVIDIA's layer
def battery(trtp):
    """(label, describe, impl, plugin id, extra) plugin definitions written against ``trtp``; extra is ("autotune",
    fn) or ("aot_impl", fn)."""
    TD, T = trtp.TensorDesc, trtp.Tensor
    F32, I32, F64 = npt.NDArray[np.float32], npt.NDArray[np.int32], npt.NDArray[np.float64]
    cases = []

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
    def r_nd(a: TD, x: F32, n: I32) -> TD: ...
    def r_ndraw(a: TD, x: np.ndarray) -> TD: ...
    def r_ndbad(a: TD, x: npt.NDArray[np.complex64]) -> TD: ...
    def r_scalars(a: TD, s: str, b: bytes, f: bool, i: int) -> TD: ...
    def r_retlist(a: TD) -> List[TD]: ...
    def r_kwonly(a: TD, *, x: int) -> TD: ...
    def i_nd(a: T, x: F32, n: I32, outputs: Tuple[T], stream: int) -> None: ...
    def i_ndwrong(a: T, x: F64, n: I32, outputs: Tuple[T], stream: int) -> None: ...
    def i_ok(a: T, x: float, outputs: Tuple[T], stream: int) -> None: ...
    def i_none_str(a: T, x: float, outputs: Tuple[T], stream: int) -> "None": ...
    def i_str(a: "T", x: float, outputs: Tuple[T], stream: int) -> None: ...
    def i_order(a: T, outputs: Tuple[T], x: float, stream: int) -> None: ...
    def i_subset(a, outputs, stream): ...
    def i_wrongattr(a: T, x: int, outputs: Tuple[T], stream: int) -> None: ...
    def i_outlist(a: T, x: float, outputs: List[T], stream: int) -> None: ...
    def i_tactic(a: T, x: float, outputs: Tuple[T], stream: int, tactic: int) -> None: ...
    def i_streamstr(a: T, x: float, outputs: Tuple[T], stream: "int") -> None: ...
    def i_unknown(a: T, y: float, outputs: Tuple[T], stream: int) -> None: ...
    def t_ok(a: TD, x: float, outputs: Tuple[TD]) -> List[trtp.AutoTuneCombination]: ...
    def t_bad(a: TD, x: float, outputs: Tuple[TD]) -> int: ...
    def t_tactic(a: TD, x: float, outputs: Tuple[TD], tactic: int) -> List[trtp.AutoTuneCombination]: ...
    def t_attrs(a: TD, outputs: Tuple[TD]): ...

    for lbl, f in [("ok", r_ok), ("str-tensor", r_str), ("str-attr", r_attrstr), ("str-ret", r_retstr),
                   ("tuple", r_tuple), ("interspersed", r_inter), ("no-annot", r_noann), ("default", r_default),
                   ("attr-first", r_attrfirst), ("bad-type", r_badtype), ("disallowed", r_disallowed),
                   ("no-ret", r_noret), ("varargs", r_varargs), ("ndarray", r_nd), ("ndarray-raw", r_ndraw),
                   ("ndarray-complex", r_ndbad), ("scalars", r_scalars), ("ret-list", r_retlist), ("kw-only", r_kwonly)]:
        cases.append(("register:" + lbl, f, None, None, None))
    for lbl, f in [("ok", i_ok), ("none-str", i_none_str), ("str-tensor", i_str), ("order", i_order),
                   ("subset", i_subset), ("wrong-attr-type", i_wrongattr), ("outputs-list", i_outlist),
                   ("tactic", i_tactic), ("stream-str", i_streamstr), ("unknown-attr", i_unknown)]:
        cases.append(("impl:" + lbl, r_ok, f, None, None))
    cases += [("impl:ndarray", r_nd, i_nd, None, None), ("impl:ndarray-wrong-dtype", r_nd, i_ndwrong, None, None),
              ("autotune:ok", r_ok, None, None, ("autotune", t_ok)), ("autotune:bad-ret", r_ok, None, None, ("autotune", t_bad)),
              ("autotune:tactic", r_ok, None, None, ("autotune", t_tactic)),
              ("autotune:no-attrs", r_ok, None, None, ("autotune", t_attrs))]
    if hasattr(trtp, "aot_impl"):
        def a_ok(a: TD, x: float, outputs: Tuple[TD], tactic: int) -> Tuple[
                typing.Union[str, bytes], typing.Union[str, bytes], trtp.KernelLaunchParams, trtp.SymIntExprs]: ...
        def a_noret(a: TD, x: float, outputs: Tuple[TD], tactic: int): ...
        def a_short(a: TD, x: float, outputs: Tuple[TD], tactic: int) -> Tuple[str, str, trtp.KernelLaunchParams]: ...
        def a_stream(a: TD, x: float, outputs: Tuple[TD], stream: int, tactic: int) -> Tuple[
                str, bytes, trtp.KernelLaunchParams, trtp.SymIntExprs]: ...
        def a_tacticstr(a: TD, x: float, outputs: Tuple[TD], tactic: "int") -> Tuple[
                str, bytes, trtp.KernelLaunchParams, trtp.SymIntExprs]: ...
        cases += [("aot:ok", r_ok, None, None, ("aot_impl", a_ok)), ("aot:no-ret", r_ok, None, None, ("aot_impl", a_noret)),
                  ("aot:short", r_ok, None, None, ("aot_impl", a_short)), ("aot:stream", r_ok, None, None, ("aot_impl", a_stream)),
                  ("aot:tactic-str", r_ok, None, None, ("aot_impl", a_tacticstr))]
    for pid in ["noseparator", "a::b::c", "trt::x", "::x", "a.b::x", "ns::a.b"]:
        cases.append(("id:" + pid, r_ok, None, pid, None))
    return cases


def run_battery(trtp, trt):
    """Outcome per case: "OK" or the exception's type; for the fields case, what the plugin's impl receives."""
    from tensorrt import _host

    out = {}
    for n, (label, reg, imp, pid, extra) in enumerate(battery(trtp)):
        plugin_id = pid or f"chk{n}::p"
        try:
            trtp.register(plugin_id)(reg)
            if imp is not None:
                trtp.impl(plugin_id)(imp)
            if extra is not None:
                getattr(trtp, extra[0])(plugin_id)(extra[1])
            out[label] = "OK"
        except Exception as e:  # noqa: BLE001  (the outcome is what is compared)
            out[label] = type(e).__name__
    out["twice"] = _outcome(lambda: trtp.register("chk0::p")(battery(trtp)[0][1]))
    seen = []

    def fields_impl(a: trtp.Tensor, s: str, b: bytes, f: bool, i: int, outputs: Tuple[trtp.Tensor], stream: int) -> None:
        seen.append({"s": s, "b": b, "f": f, "i": i, "types": [type(v).__name__ for v in (s, b, f, i)],
                     "shape": tuple(a.shape), "out": tuple(outputs[0].shape), "stream": stream})

    def fields_desc(a: trtp.TensorDesc, s: str, b: bytes, f: bool, i: int) -> trtp.TensorDesc:
        return a.like()

    trtp.register("fields::p")(fields_desc)
    trtp.impl("fields::p")(fields_impl)
    out["fields:create"] = _outcome(lambda: _host.create("fields::p", {
        "s": "hi", "b": b"\x01\x02", "f": np.array([1], np.int8), "i": np.array([7], np.int64)}) and "OK")
    if out["fields:create"] == "OK":  # releases before 11.2 refuse one-element arrays for scalar attributes (NumPy 2.4)
        plugin = _host.create("fields::p", {"s": "hi", "b": b"\x01\x02", "f": np.array([1], np.int8),
                                            "i": np.array([7], np.int64)})
        out["fields:outputs"] = _host.outputs(plugin, [((3, 5), trt.float16)])
        _host.enqueue(plugin, [(1, (3, 5), trt.float16)], [(2, (3, 5), trt.float16)], stream=3)
        out["fields:impl"] = seen[0] if seen else "not called"
        seen.clear()
        _host.outputs(plugin, [((2,), trt.bfloat16)])
        _host.enqueue(plugin, [(1, (2,), trt.bfloat16)], [(2, (2,), trt.bfloat16)])
        out["fields:bf16"] = _outcome(lambda: seen[0]["shape"])

    def desc_mutates(a: trtp.TensorDesc) -> trtp.TensorDesc:
        a.dtype = trt.float16  # descriptors handed to the describe function are read-only
        return a.like()

    def arrays_impl(a: trtp.Tensor, x: npt.NDArray[np.float32], outputs: Tuple[trtp.Tensor], stream: int) -> None:
        seen.append((x.dtype.name, x.tolist(), _outcome(lambda: a.__cuda_array_interface__ and "OK")))

    def arrays_desc(a: trtp.TensorDesc, x: npt.NDArray[np.float32]) -> trtp.TensorDesc:
        return a.like()

    trtp.register("mut::p")(desc_mutates)
    out["describe:mutates"] = _outcome(lambda: _host.outputs(_host.create("mut::p", {}), [((2,), trt.float32)]))
    trtp.register("arr::p")(arrays_desc)
    trtp.impl("arr::p")(arrays_impl)
    for dtype in (trt.float32, trt.bfloat16, trt.int8):
        seen.clear()
        plugin = _host.create("arr::p", {"x": np.array([1.5, 2.0], np.float64)})
        _host.outputs(plugin, [((4,), dtype)])
        _host.enqueue(plugin, [(8, (4,), dtype)], [(16, (4,), dtype)])
        out[f"arrays:{dtype.name}"] = seen[0] if seen else "not called"
    return out


def _outcome(fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001
        return type(e).__name__


@pytest.mark.parametrize("version", NVIDIA or [pytest.param(V11_4, marks=pytest.mark.skip(
    reason="no tensorrt-cu12-bindings wheel here (dev extra; STYLEFORGE_TRT_PLUGIN_PATH for more releases)"))])
def test_stand_in_agrees_with_nvidia_layer(gpu_stubs, version):
    """Same outcome, definition by definition, from NVIDIA's layer and the stand-in at the same release."""
    results = {}
    for layer in ("auto", "own"):
        trt = gpu_stubs(version=version, layout="tarball", plugin=layer)
        import tensorrt.plugin as trtp

        assert (trtp.__layer__ == "own") == (layer == "own"), trtp.__layer__
        results[layer] = run_battery(trtp, trt)
    real, own = results["auto"], results["own"]
    assert len(real) >= 40 and "OK" in real.values() and "ValueError" in real.values()
    assert {k: (real[k], own.get(k)) for k in real if real[k] != own.get(k)} == {}


@pytest.mark.parametrize("version", [V10, V11_4])
def test_simulated_parser_creates_the_plugin_from_the_node(gpu_stubs, version):
    """The simulated ONNX parser hands a plugin node's attributes to the creator as TensorRT's parser does (FLOAT ->
    float32, INT -> int32): the WhitenColor node parses; a node with an attribute the plugin does not declare is a
    parser error naming the creation failure (NVIDIA's layer raises AssertionError for it)."""
    import onnx
    from onnx import helper

    trt = gpu_stubs(cuda="sim", engines=True, version=version, layout="tarball")
    load_trt_plugin().register_plugin()
    from styleforge.kernels.trt_plugin import make_model

    def parse(model: bytes):
        network = trt.Builder(trt.Logger()).create_network(0)
        parser = trt.OnnxParser(network, trt.Logger())
        return parser.parse(model), [str(e) for e in parser.errors]

    assert parse(make_model(4)) == (True, [])
    bad = onnx.load_from_string(make_model(4))
    bad.graph.node[0].attribute.append(helper.make_attribute("bogus", 1.0))
    ok, errors = parse(bad.SerializeToString())
    assert not ok and len(errors) == 1 and "plugin creation failed: AssertionError" in errors[0]
