"""Signature validation of the ``tensorrt.plugin`` decorators, re-implemented check for check.

Reference (Apache-2.0 sources in NVIDIA/TensorRT, python/packaging/bindings_wheel/tensorrt/plugin/
_validate.py; the same code ships as tensorrt_bindings/plugin/_validate.py in the PyPI wheels):

* ``_validate_name_and_namespace``  (HEAD/11.1: L57-71): no '.' in namespace or name; namespace not
  in RESERVED_NAMESPACES = {"", "trt", "tensorrt", "std"}.
* ``_parse_register_inputs``  (L75-168): for every parameter, in order:
    - kind must be POSITIONAL_OR_KEYWORD or KEYWORD_ONLY        (L93-99, ValueError)
    - an annotation is mandatory                                 (L102-105, ValueError)
    - no default value                                           (L108-111, ValueError)
    - ``issubclass(param.annotation, TensorDesc)``               (L114)
        10.6 .. 11.1: bare issubclass -> a *string* annotation raises
                      TypeError("issubclass() arg 1 must be a class")
        11.2 .. 11.4: ``inspect.isclass(a) and issubclass(a, TensorDesc)`` -> a string is treated as an
                      attribute, and as parameter 0 raises ValueError("TensorDescs args should come
                      first, followed by attributes. ...")        (L125-128)
    - TensorDescs may not follow attributes                      (L115-118, ValueError)
    - attribute names may not be outputs/stream/tactic           (L130-133, ValueError)
    - attribute annotation must be one of (int, float, bytes, bool, str) -- compared with ``in``, so
      the string 'float' is NOT accepted -- or numpy.typing.NDArray[dtype] (np.ndarray only with
      lazy_register)                                              (L135-156, ValueError)
* ``_parse_register_return``  (L171-201): a return annotation is mandatory; either a TensorDesc
  subclass (checked with inspect.isclass first, so a string gives ValueError) or tuple[TensorDesc, ...]
  (typing.get_origin(...) is tuple; each arg checked with bare issubclass).
* ``_validate_impl``  (L204-280): annotations optional, but when present: ``outputs`` must be
  Tuple[Tensor]; ``stream``/``tactic`` subclasses of int; a Tensor-annotated parameter must be a
  registered input; any other annotated parameter must be a registered attribute whose annotation is
  == the one given to register. The parameter list must read exactly
  ``(inputs..., <subset of attrs in register order>, outputs, stream[, tactic])``; a return annotation,
  if any, must be None (a string 'None' is rejected).  11.2+: the stream/tactic/Tensor checks are
  guarded by inspect.isclass (L229-234), the bare issubclass on ``outputs`` args is not (L224).
* ``_validate_autotune``  (L397-475): like impl with TensorDesc inputs, ``outputs: Tuple[TensorDesc]``,
  schema ``(inputs..., attrs..., outputs)``, return AutoTuneCombination or List[AutoTuneCombination].

Differences between shipped versions were checked against the PyPI wheels tensorrt-cu12-bindings
10.6.0, 10.9.0.34, 10.16.1.11, 11.0.0.114, 11.2.1.2, 11.3.0.99, 11.4.0.106 (see NOTES.md): the only
behavioural change in these functions is the inspect.isclass guard added in 11.2.
"""
from __future__ import annotations

import inspect
import os
import typing

import numpy as np

from ._autotune import AutoTuneCombination
from ._tensor import Tensor, TensorDesc

SERIALIZABLE_BUILTIN_TYPES = (int, float, bytes, bool, str)
SERIALIZABLE_NP_DTYPES = (np.int8, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64, bool, np.bool_)
RESERVED_NAMESPACES = {"", "trt", "tensorrt", "std"}
DISALLOWED_ATTR_NAMES = {"outputs", "stream", "tactic"}


def _version() -> tuple[int, int]:
    import tensorrt as trt

    return trt._V


def _isclass_guard() -> bool:
    """True where TensorRT guards issubclass with inspect.isclass (11.2 and later)."""
    override = os.environ.get("STYLEFORGE_STUB_TRT_ISCLASS_GUARD")
    if override is not None:
        return override == "1"
    return _version() >= (11, 2)


def _is_sub(annotation, cls) -> bool:
    if _isclass_guard():
        return inspect.isclass(annotation) and issubclass(annotation, cls)
    return issubclass(annotation, cls)  # TypeError for strings, as in TensorRT 10.6 .. 11.1


def _join_with(lst, middle=False, delim=", "):
    lst = list(lst)
    if not lst:
        return ""
    return (", " if middle else "") + delim.join(lst)


def _is_npt_ndarray(annotation) -> bool:
    return typing.get_origin(annotation) == np.ndarray or getattr(annotation, "__origin__", None) == np.ndarray


def _is_numpy_array(annotation) -> bool:
    return annotation == np.ndarray or _is_npt_ndarray(annotation)


def _infer_numpy_type(annotation):
    args = typing.get_args(annotation)
    if len(args) >= 2:
        inner = typing.get_args(args[1])
        if inner:
            return inner[0]
    raise AttributeError("Improper annotation for numpy array. Annotate numpy array attributes using "
                         "'numpy.typing.NDArray[dtype]', where 'dtype' is the expected numpy dtype of the array.")


def _validate_name_and_namespace(ns: str, name: str):
    if "." in ns:
        raise ValueError(f"Provided namespace {ns} cannot have any '.' in trt.plugin.register(\"{ns}::{name}\", ...)")
    if "." in name:
        raise ValueError(f"Provided name {name} cannot have any '.' in trt.plugin.register(\"{ns}::{name}\", ...)")
    if ns in RESERVED_NAMESPACES:
        raise ValueError(f"Provided namespace {ns} is a reserved namespace")


def _parse_register_inputs(register_func, lazy_register):
    tensor_names, input_attrs, schema_chunks, attrs_types = [], {}, [], {}
    saw_first_attr = False
    sig = inspect.signature(register_func)
    for idx, (name, param) in enumerate(sig.parameters.items()):
        if param.kind not in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            raise ValueError(f"Argument {name} is not a positional-or-keyword or keyword-only arg")
        if param.annotation == inspect.Parameter.empty:
            raise ValueError(f"Argument {name} does not have a type annotation. Please mark as TensorDesc or one "
                             "of the serializable attribute types.")
        if param.default is not inspect.Parameter.empty:
            raise ValueError(f"Argument {name} has a default value. Default values are not supported yet.")
        if _is_sub(param.annotation, TensorDesc):
            if saw_first_attr:
                raise ValueError("TensorDescs args and attribute args cannot be interspersed. Received function with "
                                 f"signature {sig}.")
            tensor_names.append(name)
            schema_chunks.append(f"TensorDesc {name}")
            continue
        if idx == 0:
            raise ValueError("TensorDescs args should come first, followed by attributes. Received function with "
                             f"signature {sig}.")
        if name in DISALLOWED_ATTR_NAMES:
            raise ValueError(f"'{name}' is not allowed as a plugin attribute name.")
        if param.annotation not in SERIALIZABLE_BUILTIN_TYPES:
            if _is_numpy_array(param.annotation):
                if not lazy_register:
                    if param.annotation == np.ndarray:
                        raise ValueError("If using non-lazy registration, annotate numpy array attributes using "
                                         "'numpy.typing.NDArray[dtype]', where 'dtype' is the expected numpy dtype of "
                                         "the array.")
                    if _is_npt_ndarray(param.annotation):
                        np_dtype = _infer_numpy_type(param.annotation)
                        if np_dtype not in SERIALIZABLE_NP_DTYPES:
                            raise ValueError(f"Attribute '{name}' is not a supported numpy array type. Supported "
                                             f"numpy arrays type are {SERIALIZABLE_NP_DTYPES}.")
                        attrs_types[name] = (False, np_dtype)
            else:
                raise ValueError(f"Attribute '{name}' of type {param.annotation} is not a supported serializable "
                                 f"type. Supported types are {SERIALIZABLE_BUILTIN_TYPES} or numpy arrays of type "
                                 f"{SERIALIZABLE_NP_DTYPES}.")
        else:
            attrs_types[name] = (True, param.annotation)
        saw_first_attr = True
        schema_chunks.append(f"{param.annotation} {name}")
        input_attrs[name] = param.annotation
    return tensor_names, input_attrs, f"({_join_with(schema_chunks)})", attrs_types


def _parse_register_return(register_func) -> int:
    sig = inspect.signature(register_func)
    ret = sig.return_annotation
    if ret == inspect.Parameter.empty:
        raise ValueError(f"No return annotation found for register function. Received signature {sig}.")
    if typing.get_origin(ret) is not tuple:
        if not inspect.isclass(ret) or not issubclass(ret, TensorDesc):
            raise ValueError(f"Return argument is of type {ret}. Return types can only be TensorDesc or "
                             "Tuple[TensorDesc].")
        return 1
    args = typing.get_args(ret)
    for arg in args:
        if not issubclass(arg, TensorDesc):  # bare issubclass in every version
            raise ValueError(f"Return argument is of type {ret}. Return types can only be TensorDesc or "
                             "Tuple[TensorDesc].")
    return len(args)


def _check_outputs(name, annotation, cls, what):
    if typing.get_origin(annotation) is not tuple:
        raise ValueError(f"'outputs' should be of type Tuple[{what}]. Received {annotation}.")
    for arg in typing.get_args(annotation):
        if not issubclass(arg, cls):  # bare issubclass in every version
            raise ValueError(f"Argument for receiving output {what}, '{name}' contains a {annotation}. '{name}' "
                             f"should be a Tuple[{what}].")


def _check_attr(name, param, plugin_def, where):
    if name not in plugin_def.input_attrs:
        raise ValueError(f"Unexpected attribute '{name}' specified in {where} function. Expected one of "
                         f"{list(plugin_def.input_attrs.keys())}.")
    if param.annotation != plugin_def.input_attrs[name]:
        raise ValueError(f"Attribute '{name}' has a type annotation different from the one specified at "
                         f"registration. Expected '{plugin_def.input_attrs[name]}'.")


def _validate_impl(impl_func, plugin_def):
    impl_attr_names, found_tactic = [], False
    sig = inspect.signature(impl_func)
    for name, param in sig.parameters.items():
        if name == "tactic":
            found_tactic = True
        if param.annotation != inspect.Parameter.empty:
            if name == "outputs":
                _check_outputs(name, param.annotation, Tensor, "Tensor")
            elif name == "stream":
                if not _is_sub(param.annotation, int):
                    raise ValueError("'stream' input argument should be an int")
            elif name == "tactic":
                if not _is_sub(param.annotation, int):
                    raise ValueError("'tactic' input argument should be an int")
            elif _is_sub(param.annotation, Tensor):
                if name not in plugin_def.input_tensor_names:
                    raise ValueError(f"Unexpected tensor '{name}' specified in autotune function. Expected one of "
                                     f"{plugin_def.input_tensor_names}.")
            else:
                _check_attr(name, param, plugin_def, "impl")
                impl_attr_names.append(name)
        elif name in plugin_def.input_attrs:
            impl_attr_names.append(name)
    chunks = [n for n in plugin_def.input_attrs if n in impl_attr_names]
    expected = ("(" + _join_with(plugin_def.input_tensor_names) + _join_with(chunks, True) + ", outputs, stream"
                + (", tactic)" if found_tactic else ")"))
    if f"({', '.join(sig.parameters.keys())})" != expected:
        raise ValueError(f"Signature of the impl function '{sig}' does not match the expected input arg schema: "
                         f"{expected}")
    if sig.return_annotation != inspect.Parameter.empty and sig.return_annotation is not None:
        raise ValueError("Return annotation should be None.")
    return impl_attr_names, found_tactic


def _validate_autotune(autotune_func, plugin_def):
    sig = inspect.signature(autotune_func)
    names = []
    for name, param in sig.parameters.items():
        if param.annotation != inspect.Parameter.empty:
            if name == "outputs":
                _check_outputs(name, param.annotation, TensorDesc, "TensorDesc")
            elif _is_sub(param.annotation, TensorDesc):
                if name not in plugin_def.input_tensor_names:
                    raise ValueError(f"Unexpected tensor '{name}' specified in autotune function. Expected one of "
                                     f"{plugin_def.input_tensor_names}.")
            else:
                _check_attr(name, param, plugin_def, "autotune")
                names.append(name)
        elif name in plugin_def.input_attrs:
            names.append(name)
    chunks = [n for n in plugin_def.input_attrs if n in names]
    expected = "(" + _join_with(plugin_def.input_tensor_names) + _join_with(chunks, True) + ", outputs)"
    if f"({', '.join(sig.parameters.keys())})" != expected:
        raise ValueError(f"Specified autotune function signature {sig} is not consistent with the expected input arg "
                         f"schema {expected}.")
    ret = sig.return_annotation
    if ret != inspect.Parameter.empty:
        if typing.get_origin(ret) is not list:
            if not inspect.isclass(ret) or not issubclass(ret, AutoTuneCombination):
                raise ValueError(f"Return argument is of type {ret}. Return types can only be AutoTuneCombination or "
                                 "List[AutoTuneCombination].")
        else:
            for arg in typing.get_args(ret):
                if not issubclass(arg, AutoTuneCombination):
                    raise ValueError(f"Return argument is of type {ret}. Return types can only be AutoTuneCombination "
                                     "or List[AutoTuneCombination].")
    return names


def _validate_aot_impl(aot_impl_func, plugin_def):
    """Parameter checks of TensorRT's _validate_aot_impl (L282-395); the return-annotation check is
    reduced to 'a 4-tuple annotation is present'."""
    sig = inspect.signature(aot_impl_func)
    names = []
    for name, param in sig.parameters.items():
        if param.annotation != inspect.Parameter.empty:
            if name == "outputs":
                _check_outputs(name, param.annotation, TensorDesc, "TensorDesc")
            elif name == "tactic":
                if not _is_sub(param.annotation, int):
                    raise ValueError("'tactic' input argument should be an int")
            elif _is_sub(param.annotation, TensorDesc):
                if name not in plugin_def.input_tensor_names:
                    raise ValueError(f"Unexpected tensor '{name}' specified in autotune function. Expected one of "
                                     f"{plugin_def.input_tensor_names}.")
            else:
                _check_attr(name, param, plugin_def, "aot_impl")
                names.append(name)
        elif name in plugin_def.input_attrs:
            names.append(name)
    chunks = [n for n in plugin_def.input_attrs if n in names]
    expected = "(" + _join_with(plugin_def.input_tensor_names) + _join_with(chunks, True) + ", outputs, tactic)"
    if f"({', '.join(sig.parameters.keys())})" != expected:
        raise ValueError(f"Signature of the aot_impl function '{sig}' does not match the expected input arg schema: "
                         f"{expected}")
    ret = sig.return_annotation
    if ret == inspect.Parameter.empty:
        raise ValueError(f"No return annotation found for aot_impl function. Received signature {sig}.")
    if typing.get_origin(ret) is not tuple or len(typing.get_args(ret)) != 4:
        raise ValueError(f"Return annotation is {ret}. Expected tuple[str | bytes, str | bytes, "
                         "tensorrt.plugin.KernelLaunchParams, tensorrt.plugin.SymIntExprs].")
    return names
