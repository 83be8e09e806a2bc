"""torch.nn.Module → ONNX file, the one place the exporter is called.

Two exporters (``styleforge export --exporter``), recorded in the manifest's ``exporter`` field:

* ``torchscript`` (default): the TorchScript-based tracer (``dynamo=False``): fast (well under a second for
  our models), and its ``dynamic_axes`` give symbolic batch/height/width without tracing guards.
* ``dynamo``: ``torch.export`` + onnxscript (``dynamo=True``, torch.onnx.export's default since torch 2.9; the
  TorchScript exporter is deprecated there). The same ``dynamic_axes`` are handed over as dynamic shapes
  (named ``torch.export.Dim``s, one per axis name, so axes that share a name stay equal).

Which one runs is chosen per call (`exporter=`) or for a whole export by :func:`use_exporter` (what
``export_checkpoint`` does), so family exporters need not pass it along. The result is checked with
``onnx.checker`` and shape inference before it is accepted.
"""
from __future__ import annotations

import contextlib
import contextvars
import io
import warnings

DEFAULT_OPSET = 17
EXPORTERS = ("torchscript", "dynamo")
_EXPORTER = contextvars.ContextVar("styleforge_onnx_exporter", default="torchscript")


def current_exporter() -> str:
    """The exporter the graphs being exported now go through (``torchscript`` unless :func:`use_exporter` says)."""
    return _EXPORTER.get()


@contextlib.contextmanager
def use_exporter(name: str):
    """Export every graph inside the block with exporter `name` (``torchscript`` or ``dynamo``)."""
    from ...runtime.errors import unknown_name

    if name not in EXPORTERS:
        raise unknown_name("ONNX exporter", name, EXPORTERS)
    token = _EXPORTER.set(name)
    try:
        yield
    finally:
        _EXPORTER.reset(token)


def _dynamic_shapes(module, args: tuple, input_names: list[str], dynamic_axes: dict[str, dict[int, str]]):
    """``dynamic_axes`` (by input name) as torch.export dynamic shapes, shaped like ``module.forward``'s parameters
    (a ``*args`` parameter takes one tuple). Each axis is ``Dim.DYNAMIC``: torch.export infers its range and
    relations (a U-Net's height is a multiple of 32) and refuses to make it a constant."""
    import inspect

    import torch

    specs = [{axis: torch.export.Dim.DYNAMIC for axis in dynamic_axes.get(name, {})} or None
             for name, _ in zip(input_names, args)]
    params = list(inspect.signature(module.forward).parameters.values())
    out, i = {}, 0
    for p in params:  # keyed by parameter name; a *args parameter takes the specs of all the rest, as a tuple
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            out[p.name] = tuple(specs[i:])
            break
        if i < len(specs):
            out[p.name] = specs[i]
            i += 1
    return out


def _unspecialised_examples(args: tuple, input_names: list[str], dynamic_axes: dict[str, dict[int, str]]) -> tuple:
    """torch.export specialises a dimension of size 1 to the constant 1 (its 0/1 rule): an example of size 1 on
    an axis meant to be dynamic is repeated to size 2 there, so the graph keeps the axis symbolic."""
    import torch

    out = []
    for name, a in zip(input_names, args):
        if isinstance(a, torch.Tensor):
            for axis in dynamic_axes.get(name, {}):
                if a.shape[axis] == 1:
                    a = torch.cat([a, a], dim=axis)
        out.append(a)
    return tuple(out) + tuple(args[len(out):])


def export_onnx(module, args: tuple, *, input_names: list[str], output_names: list[str],
                dynamic_axes: dict[str, dict[int, str]], opset: int = DEFAULT_OPSET, exporter: str | None = None) -> bytes:
    """Export `module` (switched to eval mode) and return the checked ONNX model as bytes."""
    import onnx
    import torch

    import logging

    exporter = exporter or current_exporter()
    module = module.eval()
    quiet = logging.getLogger("torch.onnx")  # the dynamo exporter logs a warning per torchvision op it skips
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    with warnings.catch_warnings(), torch.no_grad(), contextlib.ExitStack() as stack:
        stack.callback(quiet.setLevel, level)
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            _check_dynamo_support(torch)
            args = _unspecialised_examples(args, input_names, dynamic_axes)
            program = torch.onnx.export(module, args, dynamo=True, input_names=input_names, output_names=output_names,
                                        dynamic_shapes=_dynamic_shapes(module, args, input_names, dynamic_axes),
                                        opset_version=max(opset, 18), optimize=True, verbose=False)
            model = program.model_proto
            _check_dynamic(model, dynamic_axes)
        else:
            buf = io.BytesIO()
            torch.onnx.export(module, args, buf, dynamo=False, input_names=input_names, output_names=output_names,
                              dynamic_axes=dynamic_axes, opset_version=opset, do_constant_folding=True)
            model = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(model, full_check=True)
    model = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    return model.SerializeToString()


def _check_dynamo_support(torch) -> None:
    """The dynamo path needs torch.onnx.export(dynamic_shapes=) and torch.export.Dim.DYNAMIC (2.13 tested; 2.4 lacks
    both) and onnxscript."""
    import importlib.util
    import inspect

    from ...runtime.errors import StyleForgeError

    if "dynamic_shapes" not in inspect.signature(torch.onnx.export).parameters or not hasattr(torch.export.Dim, "DYNAMIC"):
        raise StyleForgeError(f"--exporter dynamo needs a newer PyTorch than {torch.__version__} (torch.onnx.export with "
                              "dynamic_shapes and torch.export.Dim.DYNAMIC; tested with 2.13); use --exporter torchscript")
    if importlib.util.find_spec("onnxscript") is None:
        raise StyleForgeError("--exporter dynamo needs onnxscript (pip install \"styleforge[train]\")")


def _check_dynamic(model, dynamic_axes: dict[str, dict[int, str]]) -> None:
    """Every axis meant to be dynamic is symbolic in the exported graph's inputs and outputs (torch.export can
    specialise one silently)."""
    from ...runtime.errors import StyleForgeError

    for v in list(model.graph.input) + list(model.graph.output):
        dims = v.type.tensor_type.shape.dim
        for axis in dynamic_axes.get(v.name, {}):
            if axis < len(dims) and not dims[axis].dim_param:
                raise StyleForgeError(f"the dynamo exporter fixed axis {axis} of {v.name!r} to {dims[axis].dim_value} "
                                      "(meant to be dynamic); export with --exporter torchscript")


def graph_opset(onnx_bytes: bytes) -> int | None:
    """The default-domain opset a graph imports (the dynamo exporter writes at least 18)."""
    import onnx

    model = onnx.load_from_string(onnx_bytes)
    return next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), None)


def graph_io(onnx_bytes: bytes) -> tuple[list[dict], list[dict]]:
    """Names, dtypes and symbolic shapes of a graph's inputs and outputs, as manifest entries."""
    import onnx
    from onnx import helper

    model = onnx.load_from_string(onnx_bytes)

    def entry(v):
        t = v.type.tensor_type
        shape = [d.dim_param if d.dim_param else d.dim_value for d in t.shape.dim]
        return {"name": v.name, "dtype": helper.tensor_dtype_to_np_dtype(t.elem_type).name, "shape": shape}

    inits = {i.name for i in model.graph.initializer}
    return [entry(v) for v in model.graph.input if v.name not in inits], [entry(v) for v in model.graph.output]
