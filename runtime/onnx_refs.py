"""Where an ONNX graph's tensors keep their data outside the graph file (``external_data`` ``location``), read
from the serialized bytes without onnx or protobuf: the runtime needs neither, and must check those paths
itself before ONNX Runtime follows them (runtime/bundle.py confines them to the bundle; docs/safety.md).

The walk follows the protobuf wire format through every message that can hold a tensor: the model's graph and
functions, a graph's initializers and sparse initializers, every node attribute's tensors, sparse tensors and
subgraphs (If / Loop / Scan bodies), to any depth. Field numbers are onnx.proto's (stable since IR version 3).
"""
from __future__ import annotations

from .errors import BundleError

# message kinds, and for each the fields (number → kind) that hold messages which may lead to a tensor
_MODEL, _GRAPH, _NODE, _ATTR, _SPARSE, _FUNCTION, _TENSOR, _ENTRY = range(8)
_CHILDREN = {
    _MODEL: {7: _GRAPH, 25: _FUNCTION},                             # ModelProto.graph, .functions
    _GRAPH: {1: _NODE, 5: _TENSOR, 15: _SPARSE},                    # GraphProto.node, .initializer, .sparse_initializer
    _NODE: {5: _ATTR},                                              # NodeProto.attribute
    _ATTR: {5: _TENSOR, 6: _GRAPH, 10: _TENSOR, 11: _GRAPH, 22: _SPARSE, 23: _SPARSE},  # t, g, tensors, graphs, sparse
    _SPARSE: {1: _TENSOR, 2: _TENSOR},                              # SparseTensorProto.values, .indices
    _FUNCTION: {7: _NODE},                                          # FunctionProto.node
    _TENSOR: {13: _ENTRY},                                          # TensorProto.external_data
}


def _varint(buf: memoryview, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def _fields(buf: memoryview):
    """(field number, length-delimited payload or None) of one message, in order."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, i = _varint(buf, i)
            yield field, None
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise ValueError("a field runs past the end of its message")
            yield field, buf[i:i + n]
            i += n
        else:
            raise ValueError(f"wire type {wire} (groups are not used by ONNX)")
    if i != len(buf):
        raise ValueError("a field runs past the end of its message")


def external_data_locations(onnx_bytes: bytes) -> list[str]:
    """Every ``location`` an ``external_data`` entry of the model names (in order, repeats removed)."""
    found: list[str] = []
    stack = [(_MODEL, memoryview(onnx_bytes))]
    try:
        while stack:
            kind, buf = stack.pop()
            if kind == _ENTRY:
                entry = {f: bytes(v).decode("utf-8") for f, v in _fields(buf) if v is not None}
                if entry.get(1) == "location" and entry.get(2, "") not in found:
                    found.append(entry.get(2, ""))
                continue
            children = _CHILDREN[kind]
            stack.extend((children[f], v) for f, v in _fields(buf) if v is not None and f in children)
    except (ValueError, UnicodeDecodeError) as e:
        raise BundleError(f"not a readable ONNX model ({e})") from None
    return found
