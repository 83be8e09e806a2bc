"""How images travel into and out of a graph — the one place every image interface (stylizer, translator,
generator, WCT) converts between H×W×3 uint8 pictures and a graph's own tensors.

A graph's image tensor is described by its manifest :class:`TensorSpec`: ``dtype`` (float32, float16 or
uint8), ``layout`` (NCHW or NHWC) and ``range`` ([0, 255], [0, 1], [-1, 1], …; uint8 tensors are [0, 255]).
:class:`ImageIO` turns an N×H×W×3 uint8 batch into that tensor (:meth:`ImageIO.encode`) and the graph's output
back into N×H×W×3 uint8 (:meth:`ImageIO.decode`: scale to [0, 255], clip, round half to even like
``numpy.rint``). Both are single passes where numpy allows it (the uint8→float conversion, scaling and
transposition are one strided copy into a fresh buffer; the output is clipped and rounded in place — runners
return arrays their caller owns). :func:`fixed_feeds` loads inputs held fixed (``import-onnx --const``) once
per bundle, and :func:`pad_batch` reflect-pads uint8 batches up to a size multiple (4× less memory traffic
than padding floats). Padding then cropping, scaling, clamping and rounding are thus the same for every
interface and every graph, StyleForge's or imported.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import StyleForgeError

LAYOUTS = ("NCHW", "NHWC")
#: the value ranges `import-onnx --range` accepts (and exporters annotate)
RANGES = {"0,255": (0.0, 255.0), "0,1": (0.0, 1.0), "-1,1": (-1.0, 1.0)}


@dataclass(frozen=True)
class ImageIO:
    """One image tensor of a graph: its name, layout, dtype and value range (see the module docstring)."""

    name: str
    layout: str = "NCHW"
    dtype: str = "float32"
    lo: float = 0.0
    hi: float = 255.0

    @property
    def is_uint8(self) -> bool:
        return self.dtype == "uint8"

    @property
    def _scale(self) -> float:
        """Graph units per grey level."""
        return (self.hi - self.lo) / 255.0

    @property
    def in_scale(self) -> np.float32:
        """The float32 factor :meth:`encode` multiplies grey levels by (graph units per grey level); the in-graph
        I/O wrapper (export/convert/io_uint8.py) uses this very constant."""
        return np.float32(self._scale)

    @property
    def out_scale(self) -> np.float32:
        """The float32 factor :meth:`to_unit255` multiplies ``y − lo`` by (grey levels per graph unit)."""
        return np.float32(1.0 / self._scale)

    def encode(self, batch: np.ndarray) -> np.ndarray:
        """N×H×W×3 uint8 → the graph's tensor (a fresh contiguous array)."""
        batch = np.asarray(batch)
        if batch.ndim != 4 or batch.shape[-1] != 3 or batch.dtype != np.uint8:
            raise StyleForgeError(f"{self.name}: expected an N×H×W×3 uint8 batch, got {batch.dtype} {list(batch.shape)}")
        if self.is_uint8:
            return np.ascontiguousarray(batch if self.layout == "NHWC" else batch.transpose(0, 3, 1, 2))
        n, h, w, c = batch.shape
        out = np.empty((n, c, h, w) if self.layout == "NCHW" else (n, h, w, c), np.dtype(self.dtype))
        view = out.transpose(0, 2, 3, 1) if self.layout == "NCHW" else out
        if self._scale == 1.0:
            np.copyto(view, batch, casting="unsafe")
        else:
            np.multiply(batch, self.in_scale, out=view, casting="unsafe")
        if self.lo:
            out += np.asarray(self.lo, out.dtype)
        return out

    def to_unit255(self, y: np.ndarray) -> np.ndarray:
        """The graph's float output as N×H×W×3 float32 in grey levels ([0, 255] scale, not clipped): a view when
        nothing needs computing, else a new array."""
        y = np.asarray(y)
        if y.ndim != 4:
            raise StyleForgeError(f"{self.name}: expected a 4-D image batch from the graph, got shape {list(y.shape)}")
        hwc = y.transpose(0, 2, 3, 1) if self.layout == "NCHW" else y
        if self.is_uint8:
            return hwc
        if hwc.dtype != np.float32:
            hwc = hwc.astype(np.float32)
        if self.lo or self._scale != 1.0:
            hwc = (hwc - np.float32(self.lo)) * self.out_scale
        return hwc

    def decode(self, y: np.ndarray, crop: tuple[int, int] | None = None) -> np.ndarray:
        """The graph's output → N×H×W×3 uint8 (cropped to `crop` = (H, W) first): scaled to [0, 255], clipped,
        rounded half to even. Float outputs are modified in place (runners hand out arrays the caller owns)."""
        y = np.asarray(y)
        if crop is not None:
            h, w = crop
            y = y[:, :, :h, :w] if self.layout == "NCHW" else y[:, :h, :w]
        hwc = self.to_unit255(y)
        if hwc.dtype == np.uint8:
            return np.ascontiguousarray(hwc)
        if not hwc.flags.writeable:  # never write into a read-only array
            hwc = hwc.copy()
        np.clip(hwc, 0.0, 255.0, out=hwc)
        np.rint(hwc, out=hwc)
        return hwc.astype(np.uint8)

    def to_float_nchw(self, y: np.ndarray) -> np.ndarray:
        """The graph's output as float32 N×3×H×W in [0, 255] (StyleForge's raw image convention)."""
        return np.ascontiguousarray(self.to_unit255(y).transpose(0, 3, 1, 2), dtype=np.float32)

    def from_float_nchw(self, x: np.ndarray) -> np.ndarray:
        """float N×3×H×W in [0, 255] (StyleForge's raw convention) → the graph's tensor (uint8 graphs get the
        values rounded and clipped)."""
        x = np.asarray(x, np.float32)
        if self.is_uint8:
            u8 = np.clip(np.rint(x), 0, 255).astype(np.uint8)
            return np.ascontiguousarray(u8 if self.layout == "NCHW" else u8.transpose(0, 2, 3, 1))
        y = x * self.in_scale + np.float32(self.lo) if (self.lo or self._scale != 1.0) else x
        y = y if self.layout == "NCHW" else y.transpose(0, 2, 3, 1)
        return np.ascontiguousarray(y, dtype=np.dtype(self.dtype))


def image_io(spec, default_layout: str = "NCHW") -> ImageIO:
    """The :class:`ImageIO` of a manifest TensorSpec (NCHW float32 [0, 255] where it says nothing)."""
    if spec is None:
        raise StyleForgeError("graph has no such image tensor")
    layout = (spec.layout or default_layout).upper()
    if layout not in LAYOUTS:
        raise StyleForgeError(f"{spec.name}: layout {spec.layout!r} is not an image layout ({', '.join(LAYOUTS)})")
    dtype = spec.dtype
    if dtype not in ("float32", "float16", "uint8"):
        raise StyleForgeError(f"{spec.name}: image tensors must be float32, float16 or uint8, not {dtype}")
    lo, hi = (0.0, 255.0) if dtype == "uint8" or not spec.range else (float(spec.range[0]), float(spec.range[1]))
    if not hi > lo:
        raise StyleForgeError(f"{spec.name}: range {spec.range} is empty")
    return ImageIO(spec.name, layout, dtype, lo, hi)


def spatial_size(io: ImageIO, x: np.ndarray) -> tuple[int, int]:
    """(H, W) of an encoded tensor."""
    return tuple(x.shape[2:4]) if io.layout == "NCHW" else tuple(x.shape[1:3])  # type: ignore[return-value]


def padded_size(h: int, w: int, multiple: int, min_side: int = 1) -> tuple[int, int]:
    """(H, W) that :func:`pad_batch` pads an h×w image to: each side up to a multiple of `multiple`, at least
    `min_side` (rounded up to the multiple). runtime/budget.py counts a request's work with it."""
    def side(n: int) -> int:
        return max(-(-n // multiple) * multiple, -(-min_side // multiple) * multiple)

    return side(h), side(w)


def pad_batch(batch: np.ndarray, multiple: int, min_side: int = 1) -> tuple[np.ndarray, tuple[int, int]]:
    """Reflect-pad an N×H×W×C batch at the bottom and right up to a multiple of `multiple` (at least
    `min_side`); edge-pad where a side is too small to reflect. Returns the batch and (H, W) to crop back to."""
    h, w = batch.shape[1:3]
    th, tw = padded_size(h, w, multiple, min_side)
    ph, pw = th - h, tw - w
    if ph or pw:
        mode = "reflect" if (ph < h and pw < w) else "edge"
        batch = np.pad(batch, ((0, 0), (0, ph), (0, pw), (0, 0)), mode=mode)
    return batch, (h, w)


def fixed_feeds(bundle, graph) -> dict[str, np.ndarray]:
    """Inputs of `graph` held fixed (``TensorSpec.value_file``), loaded once per bundle and graph."""
    per_bundle = bundle.__dict__.setdefault("_fixed_feeds", {})
    if graph.role not in per_bundle:
        per_bundle[graph.role] = {t.name: np.load(bundle.file(t.value_file), allow_pickle=False)
                                  for t in graph.inputs if t.value_file is not None}
    return per_bundle[graph.role]


def style_vector_input(graph):
    """The graph's style-vector input (``purpose == "style_vector"``), or None."""
    return next((t for t in graph.inputs if t.purpose == "style_vector"), None)


def style_vector(spec, num_styles: int, *, index=None, weights=None, batch: int = 1) -> np.ndarray:
    """The value for a style-vector input: one-hot of `index`, or the blend `weights` (one per style,
    used as given), shaped as the input declares ([S] or [batch, S])."""
    if weights is not None:
        v = np.asarray(weights, np.float32).reshape(-1)
        if v.size != num_styles:
            raise StyleForgeError(f"--style-weights: give {num_styles} weights (one per style), got {v.size}")
        if not np.all(np.isfinite(v)):
            raise StyleForgeError("--style-weights must be finite numbers")
    else:
        k = int(index or 0)
        if not 0 <= k < num_styles:
            raise StyleForgeError(f"style index {k} out of range: this bundle has {num_styles} style(s), "
                                  f"indices 0..{num_styles - 1}")
        v = np.zeros(num_styles, np.float32)
        v[k] = 1.0
    dtype = np.dtype(spec.dtype) if spec.dtype in ("float32", "float16", "float64") else np.float32
    v = v.astype(dtype)
    return np.ascontiguousarray(np.broadcast_to(v, (batch, num_styles))) if len(spec.shape) == 2 else v
