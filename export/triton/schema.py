"""Triton's own ModelConfig protobuf schema (``inference.ModelConfig``), as shipped in the tritonclient package.

``tritonclient.grpc`` cannot be imported without grpcio (its ``__init__`` imports grpc), and
``tritonclient[grpc]`` would pin protobuf below what onnx wants; the generated ``model_config_pb2.py`` itself needs
only protobuf, so it is loaded from its file when the package import fails.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from ...runtime.errors import StyleForgeError

_MODULE = None

#: ONNX TensorProto element type → Triton DataType name
ONNX_TO_TRITON = {1: "TYPE_FP32", 2: "TYPE_UINT8", 3: "TYPE_INT8", 4: "TYPE_UINT16", 5: "TYPE_INT16", 6: "TYPE_INT32",
                  7: "TYPE_INT64", 9: "TYPE_BOOL", 10: "TYPE_FP16", 11: "TYPE_FP64", 12: "TYPE_UINT32",
                  13: "TYPE_UINT64", 16: "TYPE_BF16"}


def model_config_pb2():
    """The generated ``model_config_pb2`` module (``ModelConfig``, ``DataType``, ``ModelInput`` …)."""
    global _MODULE
    if _MODULE is None:
        try:
            from tritonclient.grpc import model_config_pb2 as mc  # with grpcio installed
        except (ImportError, RuntimeError):  # tritonclient.grpc raises RuntimeError without grpcio
            try:
                import tritonclient
            except ImportError:
                raise StyleForgeError("styleforge triton needs tritonclient: pip install 'styleforge[triton]'") from None
            path = Path(tritonclient.__file__).parent / "grpc" / "model_config_pb2.py"
            if not path.is_file():
                raise StyleForgeError(f"{path}: missing from this tritonclient; reinstall it") from None
            spec = importlib.util.spec_from_file_location("_styleforge_triton_model_config_pb2", path)
            mc = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mc)
        _MODULE = mc
    return _MODULE


def to_text(config) -> str:
    """A ModelConfig message as ``config.pbtxt`` text."""
    from google.protobuf import text_format

    return text_format.MessageToString(config)


def parse_text(text: str):
    """``config.pbtxt`` text → ModelConfig; unknown fields and enum values raise ``text_format.ParseError``."""
    from google.protobuf import text_format

    return text_format.Parse(text, model_config_pb2().ModelConfig())
