"""The project's stand-in for NVIDIA's ``tensorrt.plugin`` layer, used where NVIDIA's wheel of the stub's release is
not here (tensorrt/plugin/__init__.py picks). Written for StyleForge; tests/test_trt_plugin.py runs a battery of plugin
definitions through this and through NVIDIA's layer and fails where the outcomes differ.

What it stands for (the real layer's observable behaviour, by release):

- ``register("ns::name")``: an id with one ``::``, no ``.``, a namespace other than "", trt, tensorrt, std, defined
  once. The describe function: every parameter positional-or-keyword or keyword-only, annotated, without a default;
  tensor descriptors first (the first parameter must be one), then attributes (int, float, bool, str, bytes, or
  ``NDArray[d]`` for d an 8- to 64-bit int or float or bool; not named outputs/stream/tactic); the return annotation
  ``TensorDesc`` or ``Tuple[TensorDesc, ...]``. The creator enters the core's registry at once.
- ``impl``: parameters = the tensors, a subset of the attributes in registration order, ``outputs``, ``stream``
  [, ``tactic``]; annotations, where given, agree with the registration; return None. ``autotune``: tensors,
  attributes, ``outputs``. ``aot_impl`` (from 10.9): tensors, attributes, ``outputs``, ``tactic``, returning a
  4-tuple (str|bytes, str|bytes, KernelLaunchParams, SymExprs).
- Before 11.2 a non-class annotation reaches ``issubclass`` unguarded (TypeError); from 11.2 it is a ValueError.
  Before 11.2 a one-element field array is converted with ``type(array)``, from 11.2 with ``type(array[0])``.
  From 11.3 ``NDArray`` aliases whose origin is ``numpy.typing.NDArray`` itself are recognised too.
- Descriptors given to the describe function and tensors given to ``impl`` are read-only; a ``TensorDesc`` is built
  from a shape expression; ``__cuda_array_interface__`` refuses BF16, FP8 and INT4.
"""
import inspect
import types
import typing

import numpy as np
import numpy.typing as npt

import tensorrt as trt

_V = trt._V
_AOT = _V >= (10, 9)

SCALAR_ATTRS = {t: getattr(trt.PluginFieldType, kind) for t, kind in (
    (str, "CHAR"), (bytes, "UNKNOWN"), (bool, "INT8"), (int, "INT64"), (float, "FLOAT64"))}
ARRAY_ATTRS = {np.dtype(k): getattr(trt.PluginFieldType, v) for k, v in (
    ("int8", "INT8"), ("int16", "INT16"), ("int32", "INT32"), ("int64", "INT64"), ("float16", "FLOAT16"),
    ("float32", "FLOAT32"), ("float64", "FLOAT64"), ("bool", "INT8"))}
ARRAY_SCALAR_TYPES = (np.int8, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64, bool, np.bool_)
NOT_ATTRIBUTE_NAMES = ("outputs", "stream", "tactic")
RESERVED_NAMESPACES = ("", "trt", "tensorrt", "std")


def _is_a(annotation, cls) -> bool:
    """``issubclass`` as the release applies it to annotations: guarded by isclass from 11.2 only."""
    if _V >= (11, 2) and not inspect.isclass(annotation):
        return False
    return issubclass(annotation, cls)


# ------------------------------------------------------------------------------------------ data types
class _ReadOnly:
    _frozen = False

    def __setattr__(self, name, value):
        if self._frozen and name != "_frozen":
            raise ValueError(f"{type(self).__name__} is read-only here")
        object.__setattr__(self, name, value)

    def _freeze(self):
        self._frozen = True
        return self


class ShapeExpr:
    """One extent of a descriptor: a core IDimensionExpr (None while TensorRT only asks for data types)."""

    def __init__(self, expr=None):
        self._expr = expr

    def _combine(self, op, other):
        if self._expr is None:
            return ShapeExpr()
        other = other if isinstance(other, ShapeExpr) else ShapeExpr(_BUILDER[0].constant(int(other)))
        return ShapeExpr(_BUILDER[0].operation(op, self._expr, other._expr))

    def __add__(self, o):
        return self._combine(trt.DimensionOperation.SUM, o)

    def __sub__(self, o):
        return self._combine(trt.DimensionOperation.SUB, o)

    def __mul__(self, o):
        return self._combine(trt.DimensionOperation.PROD, o)

    def __floordiv__(self, o):
        return self._combine(trt.DimensionOperation.FLOOR_DIV, o)

    @property
    def is_fake(self) -> bool:
        return self._expr is None

    def constant_value(self) -> int:
        return self._expr.get_constant_value()


_BUILDER = [None]  # the expression builder while TensorRT asks for output shapes


class SymExprs(list):
    def __init__(self, length: int = 0):
        super().__init__([None] * int(length))


class ShapeExprs(SymExprs):
    pass


class SymIntExprs(SymExprs):
    pass


class TensorDesc(_ReadOnly):
    """A tensor at build time: symbolic shape (ShapeExprs), data type, format."""

    def __init__(self, shape_expr=None, dtype=None, format=None, scale=None):  # noqa: A002
        self.shape_expr, self.dtype, self.format, self.scale = shape_expr, dtype, format, scale
        self._aliased_to = None

    @property
    def ndim(self) -> int:
        return len(self.shape_expr)

    @property
    def is_size_tensor(self) -> bool:
        return False

    def like(self) -> "TensorDesc":
        exprs = None if self.shape_expr is None else _copy_exprs(self.shape_expr)
        return TensorDesc(exprs, self.dtype, self.format, self.scale)

    def aliased(self) -> "TensorDesc":
        out = self.like()
        out._aliased_to = self
        return out._freeze()

    def get_aliased(self):
        return self._aliased_to


def _copy_exprs(exprs):
    out = ShapeExprs(len(exprs))
    out[:] = list(exprs)
    return out


class Shape(tuple):
    """A concrete shape (what a run-time Tensor has)."""

    def numel(self) -> int:
        return int(np.prod(self))


class Tensor(_ReadOnly):
    """A tensor at run time: device pointer, shape, strides (elements), data type, stream."""

    def __init__(self):
        self.data_ptr, self.shape, self.strides, self.dtype, self.format, self.scale = 0, Shape(), (), None, None, None
        self._stream, self._aliased_to = 0, None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def numel(self) -> int:
        return self.shape.numel()

    def get_aliased(self):
        return self._aliased_to

    @property
    def __cuda_array_interface__(self):
        if self.dtype in (trt.DataType.BF16, trt.DataType.FP8, trt.DataType.INT4):
            raise ValueError(f"no __cuda_array_interface__ for {self.dtype}")
        item = np.dtype(trt.nptype(self.dtype))
        return {"shape": tuple(self.shape), "typestr": item.str, "stream": self._stream, "version": 3,
                "data": (self.data_ptr, False), "strides": tuple(s * item.itemsize for s in self.strides)}


class AutoTuneCombination:
    def __init__(self, io_types=None, layouts=None, tactics=None):
        self.io_types, self.layouts, self.tactics = io_types, layouts, tactics


class KernelLaunchParams:  # aot_impl's launch geometry (10.9+)
    def __init__(self, grid_x=1, grid_y=1, grid_z=1, block_x=1, block_y=1, block_z=1, shared_mem=0):
        self.grid_x, self.grid_y, self.grid_z = grid_x, grid_y, grid_z
        self.block_x, self.block_y, self.block_z, self.shared_mem = block_x, block_y, block_z, shared_mem


# ------------------------------------------------------------------------------------ signature rules
def _array_annotation(a) -> bool:
    if a is np.ndarray or typing.get_origin(a) is np.ndarray or getattr(a, "__origin__", None) is np.ndarray:
        return True
    return _V >= (11, 3) and (typing.get_origin(a) is npt.NDArray or getattr(a, "__origin__", None) is npt.NDArray)


def _array_scalar(a):
    args = typing.get_args(a) or a.__args__
    if _V >= (11, 3) and len(args) == 1:
        return args[0]
    return typing.get_args(args[1])[0]


def _attribute(name, a, lazy: bool):
    """(is_builtin, type) of one attribute of the describe function, or the error the real layer gives."""
    if name in NOT_ATTRIBUTE_NAMES:
        raise ValueError(f"{name!r} cannot name a plugin attribute")
    if a in SCALAR_ATTRS:
        return True, a
    if not _array_annotation(a):
        raise ValueError(f"attribute {name!r}: {a} is neither a scalar attribute type nor an NDArray of one")
    if lazy:
        return None
    if a is np.ndarray:
        raise ValueError(f"attribute {name!r}: say the element type, numpy.typing.NDArray[dtype]")
    scalar = _array_scalar(a)
    if scalar not in ARRAY_SCALAR_TYPES:
        raise ValueError(f"attribute {name!r}: NDArray of {scalar} cannot be serialised")
    return False, scalar


def _describe_signature(fn, lazy: bool):
    """Tensor names and attribute annotations of a describe function; its output count."""
    sig = inspect.signature(fn)
    tensors, attrs, kinds = [], {}, {}
    for i, (name, p) in enumerate(sig.parameters.items()):
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            raise ValueError(f"parameter {name!r}: *args/**kwargs and positional-only parameters are refused")
        if p.annotation is p.empty:
            raise ValueError(f"parameter {name!r} needs an annotation")
        if p.default is not p.empty:
            raise ValueError(f"parameter {name!r}: default values are refused")
        if _is_a(p.annotation, TensorDesc):
            if attrs:
                raise ValueError(f"tensor {name!r} after an attribute")
            tensors.append(name)
            continue
        if i == 0:
            raise ValueError("the first parameter must be a TensorDesc")
        kind = _attribute(name, p.annotation, lazy)
        if kind is not None:
            kinds[name] = kind
        attrs[name] = p.annotation
    ret = sig.return_annotation
    if ret is sig.empty:
        raise ValueError("the describe function needs a return annotation")
    if typing.get_origin(ret) is tuple:
        outs = typing.get_args(ret)
        if not all(issubclass(o, TensorDesc) for o in outs):
            raise ValueError(f"return annotation {ret}: only TensorDescs")
    elif inspect.isclass(ret) and issubclass(ret, TensorDesc):
        outs = (ret,)
    else:
        raise ValueError(f"return annotation {ret}: TensorDesc or Tuple[TensorDesc, ...]")
    return tensors, attrs, kinds, len(outs)


def _check_companion(fn, d, what: str, tensor_cls, tail: tuple, optional_tactic: bool, ints: tuple = ()):
    """The parameter rules shared by impl, aot_impl and autotune (``ints``: the parameters that must be annotated int);
    returns the attribute names it takes and whether it takes a tactic."""
    sig = inspect.signature(fn)
    names = list(sig.parameters)
    taken = []
    for name, p in sig.parameters.items():
        a = p.annotation
        if a is p.empty:
            if name in d.attrs:
                taken.append(name)
            continue
        if name == "outputs":
            if typing.get_origin(a) is not tuple:
                raise ValueError(f"{what}: 'outputs' must be a Tuple")
            if not all(issubclass(x, tensor_cls) for x in typing.get_args(a)):
                raise ValueError(f"{what}: 'outputs' holds {a}")
        elif name in ints:
            if not _is_a(a, int):
                raise ValueError(f"{what}: {name!r} must be an int")
        elif _is_a(a, tensor_cls):
            if name not in d.tensors:
                raise ValueError(f"{what}: no input tensor {name!r}")
        elif name not in d.attrs:
            raise ValueError(f"{what}: no attribute {name!r}")
        elif a != d.attrs[name]:
            raise ValueError(f"{what}: attribute {name!r} annotated otherwise than at registration")
        else:
            taken.append(name)
    want = d.tensors + [n for n in d.attrs if n in taken] + list(tail)
    if optional_tactic and names and names[-1] == "tactic":
        want.append("tactic")
    if names != want:
        raise ValueError(f"{what}: parameters {names}, expected {want}")
    return taken, names[-1:] == ["tactic"]


class _Definition:
    def __init__(self, plugin_id, fn, tensors, attrs, kinds, n_out):
        self.plugin_id, self.fn, self.tensors, self.attrs, self.kinds, self.n_out = plugin_id, fn, tensors, attrs, kinds, n_out
        self.impl = self.impl_attrs = self.aot = self.autotune = None
        self.wants_tactic = False


DEFINITIONS: dict = {}


def _split_id(plugin_id: str):
    ns, name = plugin_id.split("::")  # ValueError unless exactly one separator, as in the real layer
    if "." in ns or "." in name:
        raise ValueError(f"{plugin_id!r}: no '.' in a plugin namespace or name")
    if ns in RESERVED_NAMESPACES:
        raise ValueError(f"{plugin_id!r}: namespace {ns!r} is reserved")
    return ns, name


def register(plugin_id: str, lazy_register: bool = False):
    def decorate(fn):
        ns, name = _split_id(plugin_id)
        if plugin_id in DEFINITIONS:
            raise ValueError(f"{plugin_id} is defined already")
        d = _Definition(plugin_id, fn, *_describe_signature(fn, lazy_register))
        DEFINITIONS[plugin_id] = d
        if not lazy_register:
            trt.get_plugin_registry().register_creator(_Creator(ns, name, d), ns)
        return fn
    return decorate


def _companion(plugin_id, what):
    if plugin_id not in DEFINITIONS:
        raise ValueError(f"{what}: {plugin_id} is not registered")
    return DEFINITIONS[plugin_id]


def impl(plugin_id: str):
    def decorate(fn):
        d = _companion(plugin_id, "impl")
        d.impl_attrs, d.wants_tactic = _check_companion(fn, d, "impl", Tensor, ("outputs", "stream"), True,
                                                        ints=("stream", "tactic"))
        ret = inspect.signature(fn).return_annotation
        if ret is not inspect.Signature.empty and ret is not None:
            raise ValueError("impl must be annotated to return None")
        d.impl = fn
        return fn
    return decorate


def autotune(plugin_id: str):
    def decorate(fn):
        d = _companion(plugin_id, "autotune")
        _check_companion(fn, d, "autotune", TensorDesc, ("outputs",), False)
        ret = inspect.signature(fn).return_annotation
        if ret is not inspect.Signature.empty:
            parts = typing.get_args(ret) if typing.get_origin(ret) is list else None
            if parts is None and not (inspect.isclass(ret) and issubclass(ret, AutoTuneCombination)):
                raise ValueError("autotune returns AutoTuneCombination or List[AutoTuneCombination]")
            if parts is not None and not all(issubclass(x, AutoTuneCombination) for x in parts):
                raise ValueError("autotune returns AutoTuneCombination or List[AutoTuneCombination]")
        d.autotune = fn
        return fn
    return decorate


def _str_or_bytes(a) -> bool:
    parts = typing.get_args(a) if typing.get_origin(a) in (typing.Union, types.UnionType) else (a,)
    return all(x is str or x is bytes for x in parts)


def aot_impl(plugin_id: str):
    def decorate(fn):
        d = _companion(plugin_id, "aot_impl")
        _check_companion(fn, d, "aot_impl", TensorDesc, ("outputs", "tactic"), False, ints=("tactic",))
        ret = inspect.signature(fn).return_annotation
        if ret is inspect.Signature.empty:
            raise ValueError("aot_impl needs a return annotation")
        parts = typing.get_args(ret) if typing.get_origin(ret) is tuple else ()
        if len(parts) != 4 or not (_str_or_bytes(parts[0]) and _str_or_bytes(parts[1])):
            raise ValueError(f"aot_impl returns {ret}, expected (str|bytes, str|bytes, KernelLaunchParams, SymExprs)")
        if not issubclass(parts[2], KernelLaunchParams) or not issubclass(parts[3], SymExprs):
            raise ValueError(f"aot_impl returns {ret}, expected (str|bytes, str|bytes, KernelLaunchParams, SymExprs)")
        d.aot = fn
        return fn
    return decorate


# ------------------------------------------------------------------ the creator and the plugin TensorRT calls
class _Creator(trt.IPluginCreatorV3Quick):
    def __init__(self, ns, name, d):
        self.name, self.plugin_namespace, self.plugin_version, self._d = name, ns, "1", d
        self.field_names = trt.PluginFieldCollection(
            trt.PluginField(k, b"" if typ in (str, bytes) else np.array([]),
                            SCALAR_ATTRS[typ] if builtin else ARRAY_ATTRS[np.dtype(typ)])
            for k, (builtin, typ) in d.kinds.items())

    def create_plugin(self, name, namespace, fields, phase, qpcr=None):
        d = DEFINITIONS[f"{namespace}::{name}"]
        return _Plugin(d, {f.name: _field_value(d, f) for f in fields})


def _field_value(d, f):
    if f.name not in d.attrs:
        raise AssertionError(f"field {f.name!r} is no attribute of {d.plugin_id}")
    a = d.attrs[f.name]
    if _array_annotation(a):
        scalar = _array_scalar(a)
        return np.frombuffer(f.data.tobytes(), np.float16) if scalar == np.float16 else f.data.astype(scalar)
    if issubclass(a, str):
        return f.data.tobytes().decode("utf-8")
    if _V >= (11, 2) and isinstance(f.data, np.ndarray) and f.data.size == 1:
        return a(f.data[0])
    return a(f.data)


class _Plugin(trt.IPluginV3QuickRuntime):
    def __init__(self, d, attrs):
        self._d, self.attrs, self.num_outputs = d, attrs, d.n_out

    def get_capability_interface(self, kind):
        return self

    def _describe(self, descs):
        out = self._d.fn(*[x._freeze() for x in descs], **self.attrs)
        return out if isinstance(out, tuple) else (out,)

    def get_output_data_types(self, input_types, ranks):
        self._types = list(input_types)
        descs = [TensorDesc(ShapeExprs(r), t) for t, r in zip(input_types, ranks)]
        return [o.dtype for o in self._describe(descs)]

    def get_output_shapes(self, inputs, shape_inputs, builder):
        _BUILDER[0] = builder
        try:
            descs = [TensorDesc(_copy_exprs([ShapeExpr(e) for e in dims]), t) for dims, t in zip(inputs, self._types)]
            outs = []
            for o in self._describe(descs):
                exprs = trt.DimsExprs(len(o.shape_expr))
                exprs[:] = [e._expr for e in o.shape_expr]
                outs.append(exprs)
            return outs
        finally:
            _BUILDER[0] = None

    def enqueue(self, input_desc, output_desc, inputs, outputs, in_strides, out_strides, stream):
        def tensor(desc, ptr, strides):
            t = Tensor()
            t.data_ptr, t.shape, t.strides, t.dtype, t.format, t.scale = ptr, Shape(desc.dims), tuple(strides), \
                desc.type, desc.format, desc.scale
            t._stream = stream
            return t._freeze()

        ins = [tensor(*x) for x in zip(input_desc, inputs, in_strides)]
        outs = [tensor(*x) for x in zip(output_desc, outputs, out_strides)]
        values = [self.attrs[k] for k in self._d.impl_attrs]
        if self._d.wants_tactic:
            self._d.impl(*ins, *values, outs, stream, self._tactic)
        else:
            self._d.impl(*ins, *values, outs, stream=stream)

    def set_tactic(self, tactic):
        self._tactic = tactic


__all__ = ["AutoTuneCombination", "Shape", "ShapeExpr", "ShapeExprs", "SymExprs", "Tensor", "TensorDesc", "autotune",
           "impl", "register"]
if _AOT:
    __all__ += ["aot_impl", "KernelLaunchParams", "SymIntExprs"]
