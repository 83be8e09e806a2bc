"""The ``tensorrt.plugin`` decorators (register / impl / autotune / aot_impl) with TensorRT's
bookkeeping: the ``QDP_REGISTRY`` of plugin definitions, the ``trtp.op.<ns>.<name>`` namespace
(second registration of an id raises ValueError), and the creator registered with
``trt.get_plugin_registry()`` unless ``lazy_register``. Order of operations follows
python/packaging/bindings_wheel/tensorrt/plugin/_lib.py (NVIDIA/TensorRT 11.1: register L372-447,
impl L452-518, autotune L623-695): split the id on "::", validate name/namespace, refuse a second
definition, parse inputs, parse return, store, register the creator, define the op.

Extra, stub-only: :func:`_stub_create_plugin` and :func:`_stub_enqueue` mimic what TensorRT does with
a registered plugin (create from ONNX-parser fields, call the register function for output
descriptors, call the impl function the way _TemplateJITPlugin.enqueue does), so tests can drive
StyleForge's plugin body without TensorRT.
"""
from __future__ import annotations

import types

import numpy as np

import tensorrt as trt

from ._tensor import Tensor, TensorDesc
from ._validate import (_parse_register_inputs, _parse_register_return, _validate_aot_impl, _validate_autotune,
                        _validate_impl, _validate_name_and_namespace)


class _PluginNamespace(types.ModuleType):
    def __init__(self, namespace):
        super().__init__("tensorrt.plugin.op." + namespace)
        self._namespace = namespace

    def define(self, name, plugin_def):
        assert not hasattr(self, name)
        setattr(self, name, plugin_def)

    def __getattr__(self, name):
        raise AttributeError(f"'{self.__class__.__name__}' object '{self._namespace}' has no attribute '{name}'")


class _Op(types.ModuleType):
    def __init__(self):
        super().__init__("tensorrt.plugin.op")

    def define_or_get(self, namespace):
        if namespace in self.__dict__:
            return self.__dict__[namespace]
        ns = _PluginNamespace(namespace)
        setattr(self, namespace, ns)
        return ns

    def __getattr__(self, name):
        raise AttributeError(f"'{self.__class__.__name__}' object has no attribute '{name}'")


op = _Op()
QDP_REGISTRY: dict = {}
QDP_CREATORS: dict = {}


class PluginDef:
    def __init__(self):
        self.plugin_id = None
        self.register_func = self.impl_func = self.aot_impl_func = self.autotune_func = None
        self.autotune_attr_names = self.impl_attr_names = self.aot_impl_attr_names = None
        self.input_tensor_names = self.input_attrs = self.num_outputs = self.input_arg_schema = None
        self.expects_tactic = None


_BUILTIN_FIELD = {int: trt.PluginFieldType.INT64, float: trt.PluginFieldType.FLOAT64, bool: trt.PluginFieldType.INT8}


class _TemplatePluginCreator(trt.IPluginCreatorV3Quick):
    def __init__(self, name, namespace, attrs_types):
        super().__init__()
        self.name, self.plugin_namespace, self.plugin_version = name, namespace, "1"
        fields = []
        for attr, (builtin, type_) in attrs_types.items():
            if builtin and type_ is str:
                fields.append(trt.PluginField(attr, b"", trt.PluginFieldType.CHAR))
            elif builtin and type_ is bytes:
                fields.append(trt.PluginField(attr, b"", trt.PluginFieldType.UNKNOWN))
            elif builtin:
                fields.append(trt.PluginField(attr, np.array([]), _BUILTIN_FIELD[type_]))
            else:
                fields.append(trt.PluginField(attr, np.array([]), trt.PluginFieldType.UNKNOWN))
        self.field_names = trt.PluginFieldCollection(fields)


def _register_plugin_creator(name, namespace, attrs_types):
    registry = trt.get_plugin_registry()
    registry.register_creator(_TemplatePluginCreator(name, namespace, attrs_types), namespace)
    creator = registry.get_creator(name, "1", namespace)
    QDP_CREATORS[f"{namespace}::{name}"] = creator
    return creator


def register(plugin_id: str, lazy_register: bool = False):
    def decorator(register_func):
        plugin_ns, plugin_name = plugin_id.split("::")  # ValueError unless exactly one "::"
        _validate_name_and_namespace(plugin_ns, plugin_name)
        op_namespace = op.define_or_get(plugin_ns)
        if plugin_name in op_namespace.__dict__:
            raise ValueError(f"'{op.__class__.__name__}' already has a defintion for '{plugin_name}'")
        tensor_names, input_attrs, input_arg_schema, attrs_types = _parse_register_inputs(register_func, lazy_register)
        plugin_def = PluginDef()
        plugin_def.plugin_id = plugin_id
        plugin_def.register_func = register_func
        plugin_def.input_tensor_names = tensor_names
        plugin_def.input_attrs = input_attrs
        plugin_def.input_arg_schema = input_arg_schema
        plugin_def.num_outputs = _parse_register_return(register_func)
        QDP_REGISTRY[plugin_id] = plugin_def
        if not lazy_register:
            _register_plugin_creator(plugin_name, plugin_ns, attrs_types)
        op_namespace.define(plugin_name, plugin_def)
        return register_func

    return decorator


def _get_def(plugin_id):
    if plugin_id not in QDP_REGISTRY:
        raise ValueError(f"Plugin {plugin_id} is not registered. Did you register it with tensorrt.plugin.register API?")
    return QDP_REGISTRY[plugin_id]


def impl(plugin_id: str):
    def decorator(impl_func):
        plugin_def = _get_def(plugin_id)
        impl_attr_names, found_tactic = _validate_impl(impl_func, plugin_def)
        plugin_def.impl_func = impl_func
        plugin_def.impl_attr_names = impl_attr_names
        plugin_def.expects_tactic = found_tactic
        return impl_func

    return decorator


def autotune(plugin_id: str):
    def decorator(autotune_func):
        plugin_def = _get_def(plugin_id)
        plugin_def.autotune_attr_names = _validate_autotune(autotune_func, plugin_def)
        plugin_def.autotune_func = autotune_func
        return autotune_func

    return decorator


def aot_impl(plugin_id: str):
    def decorator(aot_impl_func):
        plugin_def = _get_def(plugin_id)
        plugin_def.aot_impl_attr_names = _validate_aot_impl(aot_impl_func, plugin_def)
        plugin_def.aot_impl_func = aot_impl_func
        return aot_impl_func

    return decorator


# ------------------------------------------------------------------------------- stub-only helpers
def _stub_reset():
    """Forget every registered plugin (tests)."""
    QDP_REGISTRY.clear()
    QDP_CREATORS.clear()
    for ns in list(op.__dict__):
        if isinstance(op.__dict__[ns], _PluginNamespace):
            del op.__dict__[ns]
    trt.get_plugin_registry()._creators.clear()


def _stub_create_plugin(plugin_id: str, fields: dict):
    """What _TemplatePluginCreator.create_plugin does with the fields TensorRT hands it (from the ONNX
    parser at build time, from the engine at deserialisation): every field must be a registered
    attribute; ``f.data`` is a numpy array (the ONNX parser passes a FLOAT attribute as a 1-element
    float32 array and INT as int32, onnx-tensorrt onnxOpImporters.cpp loadFields; serialised scalar
    attributes come back as 1-element arrays, _plugin_class.py get_fields_to_serialize). Conversion:
    numpy-annotated -> ``data.astype(dtype)``; str -> decode; other builtins -> ``annot(data)`` in
    10.6 .. 11.1 (a TypeError with NumPy >= 2.4, which no longer converts 1-element arrays to
    scalars), ``annot(data[0])`` for 1-element arrays from 11.2 on (_lib.py L276-282 of the 11.2+ wheels)."""
    from ._validate import _infer_numpy_type, _is_numpy_array

    d = _get_def(plugin_id)
    attrs = {}
    for key, value in fields.items():
        if key not in d.input_attrs:
            raise AssertionError(f"Unexpected attribute {key} provided to create_plugin. Expected one of "
                                 f"{d.input_attrs.keys()}.")
        annot = d.input_attrs[key]
        data = value if isinstance(value, (bytes, str)) else np.asarray(value)
        if _is_numpy_array(annot):
            np_type = _infer_numpy_type(annot)
            attrs[key] = (np.frombuffer(data.tobytes(), dtype=np.float16) if np_type == np.float16
                          else data.astype(np_type))
        elif isinstance(annot, type) and issubclass(annot, str):
            attrs[key] = data if isinstance(data, str) else bytes(data).decode("utf-8")
        elif trt._V >= (11, 2) and isinstance(data, np.ndarray) and data.size == 1:
            attrs[key] = annot(data[0])
        else:
            attrs[key] = annot(data)
    return attrs


def _stub_output_descs(plugin_id: str, inputs: list, attrs: dict):
    """Call the register function as _TemplatePluginBase.get_output_data_types does:
    register_function(*input_descs, **attrs)."""
    d = _get_def(plugin_id)
    out = d.register_func(*inputs, **attrs)
    return out if isinstance(out, tuple) else (out,)


def _stub_enqueue(plugin_id: str, inputs: list, outputs: list, attrs: dict, stream: int = 0, tactic=None):
    """Call the impl function exactly as _TemplateJITPlugin.enqueue does (_plugin_class.py):
    impl(*input_tensors, *[attrs[k] for k in impl_attr_names], output_tensors, stream=stream)."""
    d = _get_def(plugin_id)
    if d.impl_func is None:
        raise ValueError(f"JIT implementation requested, but not defined for '{plugin_id}'.")
    val = [attrs[k] for k in d.impl_attr_names]
    if d.expects_tactic:
        return d.impl_func(*inputs, *val, list(outputs), stream, tactic)
    return d.impl_func(*inputs, *val, list(outputs), stream=stream)
