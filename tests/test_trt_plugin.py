"""kernels/trt_plugin.py against TensorRT's ``tensorrt.plugin`` decorator validation, without TensorRT: the
stub (tests/stubs/trt) re-implements TensorRT's plugin/_validate.py check for check, including the change
across releases (a string annotation makes ``issubclass(param.annotation, TensorDesc)`` raise TypeError in
10.6-11.1, ValueError "TensorDescs args should come first" from 11.2).

The registration test fails on the module as it was before the fix (``from __future__ import annotations``
made every annotation of the decorated functions a string); to see it, point the test at that file:
``STYLEFORGE_TRT_PLUGIN_PY=/path/to/old/trt_plugin.py pytest tests/test_trt_plugin.py``.
"""
# NB: no ``from __future__ import annotations`` here: the decorated test functions need real classes.
import importlib.util
import inspect
import os
import typing
from pathlib import Path

import numpy as np
import pytest

from gpu_stubs import gpu_stubs  # noqa: F401  (fixture)

V10, V11_1, V11_4 = "10.16.1.11", "11.1.0.106", "11.4.0.106"
STRING_ANNOTATION_ERROR = {V10: TypeError, V11_1: TypeError, V11_4: ValueError}


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


@pytest.mark.parametrize("version", [V10, V11_1, V11_4])
def test_stub_rejects_string_annotations_like_tensorrt(gpu_stubs, version):
    gpu_stubs(version=version, layout="tarball")
    import tensorrt.plugin as trtp

    def desc(inp: "trtp.TensorDesc", k: float) -> trtp.TensorDesc:  # what postponed evaluation produces
        return inp.like()

    with pytest.raises(STRING_ANNOTATION_ERROR[version]):
        trtp.register("stubcheck::p")(desc)


@pytest.mark.parametrize("version", [V10, V11_1, V11_4])
def test_register_plugin_passes_tensorrt_validation(gpu_stubs, version):
    """Acceptance: every parameter annotation of the functions the plugin registers is a real class (or a generic
    of classes), and TensorRT's validation accepts them."""
    gpu_stubs(version=version, layout="tarball")
    m = load_trt_plugin()
    m.register_plugin()
    m.register_plugin()  # idempotent
    from tensorrt.plugin._lib import QDP_REGISTRY

    d = QDP_REGISTRY[m.PLUGIN_ID]
    assert d.input_tensor_names == ["fc", "fs"] and d.num_outputs == 1
    assert list(d.input_attrs) == list(m.ATTRIBUTES) == d.impl_attr_names
    for fn in (d.register_func, d.impl_func):
        sig = inspect.signature(fn)
        bad = {n: p.annotation for n, p in sig.parameters.items() if not _is_real_annotation(p.annotation)}
        assert bad == {} and _is_real_annotation(sig.return_annotation), (fn.__name__, bad)


@pytest.mark.parametrize("version", [V10, V11_4])
def test_postponed_annotations_are_rejected_and_wrapped(gpu_stubs, version):
    """Regression guard: with postponed annotations TensorRT refuses the functions; the module turns that into one
    StyleForgeError (which the tensorrt runner and engine build report), remembers it (TensorRT keeps a half-made
    definition, so a retry would only say "already defined"), and never raises an ImportError."""
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
    """Build/deserialise path: TensorRT creates the plugin from fields (ONNX FLOAT -> 1-element float32 array,
    INT -> int32), asks the register function for output descriptors and calls impl as its JIT plugin does.
    Scalar (float/int) attributes would be converted with ``float(array)`` by TensorRT 10.6-11.1, which
    NumPy >= 2.4 refuses; NDArray attributes work on every version and NumPy."""
    gpu_stubs(version=version, layout="tarball")
    m = load_trt_plugin()
    m.register_plugin()
    import tensorrt as trt
    import tensorrt.plugin as trtp
    from tensorrt.plugin import _lib

    assert trt.get_plugin_registry().get_creator(m.PLUGIN_NAME, m.PLUGIN_VERSION, m.PLUGIN_NAMESPACE) is not None
    fields = {"alpha": np.array([0.75], np.float32), "reg": np.array([1e-2], np.float32),
              "color_reg": np.array([1e-4], np.float32), "iters": np.array([20], np.int32)}
    attrs = _lib._stub_create_plugin(m.PLUGIN_ID, fields)
    (out_desc,) = _lib._stub_output_descs(m.PLUGIN_ID, [trtp.TensorDesc((2, 64, 100), trt.float32),
                                                        trtp.TensorDesc((1, 64, 80), trt.float32)], attrs)
    assert out_desc.dtype == trt.float32 and tuple(out_desc.shape) == (2, 64, 100)
    calls = []
    monkeypatch.setattr(m, "run_plugin", lambda fc, fs, out, **kw: calls.append((fc, fs, out, kw)))
    fc, fs, out = (trtp.Tensor(0x1000, (2, 64, 100), trt.float32), trtp.Tensor(0x2000, (1, 64, 80), trt.float32),
                   trtp.Tensor(0x3000, (2, 64, 100), trt.float32))
    _lib._stub_enqueue(m.PLUGIN_ID, [fc, fs], [out], attrs, stream=7)
    ((cfc, cfs, cout, kw),) = calls
    assert (cfc, cfs, cout) == (fc, fs, out)
    assert {k: type(v) for k, v in kw.items()} == {"alpha": float, "reg": float, "color_reg": float,
                                                   "iters": int, "stream": int}
    assert kw == {"alpha": 0.75, "reg": pytest.approx(1e-2), "color_reg": pytest.approx(1e-4), "iters": 20, "stream": 7}


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
