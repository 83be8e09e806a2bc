"""torch.nn.Module → ONNX file, the one place the exporter is called.

Uses the TorchScript-based exporter (``dynamo=False``): fast (well under a second for our
models), and its ``dynamic_axes`` give symbolic batch/height/width without tracing guards.
The result is checked with ``onnx.checker`` and shape inference before it is accepted.
"""
from __future__ import annotations

import io
import warnings

DEFAULT_OPSET = 17


def export_onnx(module, args: tuple, *, input_names: list[str], output_names: list[str],
                dynamic_axes: dict[str, dict[int, str]], opset: int = DEFAULT_OPSET) -> bytes:
    """Export `module` (switched to eval mode) and return the checked ONNX model as bytes."""
    import onnx
    import torch

    module = module.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, buf, dynamo=False, input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=opset, do_constant_folding=True)
    model = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(model, full_check=True)
    model = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    return model.SerializeToString()


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
