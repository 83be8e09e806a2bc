"""Minimal stand-ins for tensorrt.plugin's TensorDesc / Tensor / SymExprs (python/packaging/
bindings_wheel/tensorrt/plugin/_tensor.py in NVIDIA/TensorRT). Only what the decorators' validation
and a simulated enqueue need: they are *classes* (validation uses issubclass on them)."""
from __future__ import annotations

import numpy as np


class SymExprs:
    def __init__(self, length: int = 0):
        self._exprs = [None] * int(length)

    def __len__(self):
        return len(self._exprs)

    def __getitem__(self, i):
        return self._exprs[i]

    def __setitem__(self, i, v):
        self._exprs[i] = v


class ShapeExprs(SymExprs):
    pass


class SymIntExprs(SymExprs):
    pass


class Shape(tuple):
    """Concrete shape (the real one wraps trt.Dims / PluginTensorDesc)."""

    @property
    def is_dynamic(self) -> bool:
        return any(int(d) < 0 for d in self)


class TensorDesc:
    """Descriptor of a plugin I/O tensor at build time (dtype, symbolic shape, format)."""

    def __init__(self, shape=None, dtype=None, format=None, scale=None):  # noqa: A002
        self.dtype = dtype
        self.shape = Shape(shape) if shape is not None else None
        self.shape_expr = ShapeExprs(len(shape) if shape is not None else 0)
        self.format = format
        self.scale = scale
        self._aliased_to = None

    @property
    def ndim(self) -> int:
        return len(self.shape_expr)

    def numel(self) -> int:
        return int(np.prod(self.shape))

    @property
    def is_size_tensor(self) -> bool:
        return False

    def like(self) -> "TensorDesc":
        out = TensorDesc(self.shape, self.dtype, self.format, self.scale)
        return out

    def aliased(self) -> "TensorDesc":
        out = self.like()
        out._aliased_to = self
        return out

    def get_aliased(self):
        return self._aliased_to


class Tensor:
    """A plugin I/O tensor at run time: a device pointer with dtype/shape/strides; supports
    ``__cuda_array_interface__`` like the real one (stream, version 3, byte strides)."""

    def __init__(self, data_ptr: int = 0, shape=(), dtype=None, strides=None, stream: int = 0):
        self.data_ptr = int(data_ptr)
        self.shape = Shape(shape)
        self.dtype = dtype
        self.format = None
        self.scale = None
        if strides is None:
            strides, acc = [], 1
            for d in reversed(tuple(shape)):
                strides.insert(0, acc)
                acc *= int(d)
        self.strides = tuple(strides)
        self._stream = stream
        self._aliased_to = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def numel(self) -> int:
        return int(np.prod(self.shape))

    @property
    def __cuda_array_interface__(self):
        import tensorrt as trt

        item = np.dtype(trt.nptype(self.dtype)).itemsize
        return {"shape": tuple(self.shape), "typestr": np.dtype(trt.nptype(self.dtype)).str, "stream": self._stream,
                "version": 3, "data": (self.data_ptr, False), "strides": tuple(s * item for s in self.strides)}

    def get_aliased(self):
        return self._aliased_to


class KernelLaunchParams:  # exists from TensorRT 10.9 (AOT plugins)
    def __init__(self):
        self.grid_x = self.grid_y = self.grid_z = 1
        self.block_x = self.block_y = self.block_z = 1
        self.shared_mem = 0
