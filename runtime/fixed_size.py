"""Images of any size through a graph that takes one fixed H×W (``size_constraints.fixed_size``, e.g. an imported
1×384×384×3 stylizer), and scale-changing graphs (``size_constraints.scale`` K: output = input × K).

Two strategies (``fit``), both numpy-only:

* ``tiles`` (default): windows of exactly the graph's size, evenly spaced so neighbours overlap by at least
  ``overlap`` px (a quarter of the side by default), each run as is and blended over the overlaps: a window's
  outer quarter of the overlap gets weight 0 (there the graph saw the window's border, not the image: its
  padding), the middle half a cosine ramp (:func:`styleforge.runtime.tiling.cosine_ramp`), the weights are
  normalised (a window's ramp and its neighbour's sum to 1 where they meet); the output keeps the full
  resolution, but the graph sees one window at a time, so the style's scale is the graph's. An image smaller
  than the graph on a side is reflect-padded up to it (edge where it is too small to reflect) and cropped back.
* ``resize``: the long side resized to the graph's (bicubic), reflect-padded to the fixed shape, run once,
  cropped, and resized back to the image's size: what such models' own apps usually do; one run, softer.

A graph with a fixed batch gets its windows in chunks of that batch (the last one padded by repeating). All
positions are in input pixels; on output they are × K (overlap and ramps included).
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .errors import StyleForgeError
from .tiling import cosine_ramp

FITS = ("tiles", "resize")
#: default overlap between windows, as a fraction of the window side
OVERLAP_FRACTION = 0.25


def window_starts(size: int, window: int, overlap: int) -> list[int]:
    """Starts of windows of `window` px covering [0, size), evenly spaced, neighbours overlapping ≥ `overlap`."""
    if size <= window:
        return [0]
    n = 1 + math.ceil((size - window) / max(1, window - overlap))
    return [round(i * (size - window) / (n - 1)) for i in range(n)]


def _ramp_in(w: np.ndarray, overlap: int, k: int, start: bool) -> None:
    """Weights of one window end over an overlap of `overlap` input px: 0 over its outer quarter (where the graph
    saw the window's border instead of the image), a cosine ramp over the middle half, 1 beyond; the neighbour's
    mirror image sums with it to 1. In place, in output px (× `k`)."""
    m = overlap // 4
    ramp = cosine_ramp((overlap - 2 * m) * k)
    seg = np.concatenate([np.zeros(m * k, np.float32), ramp, np.ones(m * k, np.float32)])
    if start:
        w[:overlap * k] *= seg
    else:
        w[len(w) - overlap * k:] *= seg[::-1]


def _weights(starts: list[int], window: int, k: int) -> list[np.ndarray]:
    """Per window, its blend weights along one axis in output pixels (module docstring)."""
    out = []
    for i, s in enumerate(starts):
        w = np.ones(window * k, np.float32)
        if i > 0:
            _ramp_in(w, starts[i - 1] + window - s, k, start=True)
        if i < len(starts) - 1:
            _ramp_in(w, s + window - starts[i + 1], k, start=False)
        out.append(w)
    return out


def _pad_to(image: np.ndarray, h: int, w: int) -> np.ndarray:
    ph, pw = max(0, h - image.shape[0]), max(0, w - image.shape[1])
    if not (ph or pw):
        return image
    mode = "reflect" if (ph < image.shape[0] and pw < image.shape[1]) else "edge"
    return np.pad(image, ((0, ph), (0, pw), (0, 0)), mode=mode)


def _run_chunks(run: Callable, windows: list[np.ndarray], batch: int | None) -> list[np.ndarray]:
    """`run` (N×h×w×3 uint8 → N×h'×w'×3 float grey levels) over the windows, `batch` at a time when fixed."""
    step = batch or len(windows)
    out: list[np.ndarray] = []
    for i in range(0, len(windows), step):
        chunk = windows[i:i + step]
        if batch and len(chunk) < batch:  # a fixed batch: fill with repeats, keep the real ones
            chunk = chunk + [chunk[-1]] * (batch - len(chunk))
        out += list(run(np.stack(chunk)))[:len(windows) - i]
    return out


def run_tiles(run: Callable, image: np.ndarray, size: tuple[int, int], *, scale: int = 1, overlap: int | None = None,
              batch: int | None = None) -> np.ndarray:
    """`image` (H×W×3 uint8) through `run` in windows of `size` = (h, w), blended; H·K×W·K×3 float grey levels."""
    th, tw = size
    if overlap is None:
        overlap = int(min(th, tw) * OVERLAP_FRACTION)
    if not 0 <= overlap < min(th, tw):
        raise StyleForgeError(f"overlap {overlap}: must be at least 0 and smaller than the graph's size {th}x{tw}")
    h, w = image.shape[:2]
    padded = _pad_to(image, th, tw)
    ys, xs = window_starts(padded.shape[0], th, overlap), window_starts(padded.shape[1], tw, overlap)
    wy, wx = _weights(ys, th, scale), _weights(xs, tw, scale)
    k = scale
    acc = np.zeros((padded.shape[0] * k, padded.shape[1] * k, 3), np.float32)
    acc_w = np.zeros(acc.shape[:2], np.float32)
    for iy, y in enumerate(ys):  # one row of windows at a time: memory stays one row of outputs
        outs = _run_chunks(run, [padded[y:y + th, x:x + tw] for x in xs], batch)
        for ix, (x, o) in enumerate(zip(xs, outs)):
            if o.shape[:2] != (th * k, tw * k):
                raise StyleForgeError(f"the graph returned {o.shape[0]}x{o.shape[1]} for a {th}x{tw} window; expected "
                                      f"{th * k}x{tw * k} (scale {k})")
            wgt = wy[iy][:, None] * wx[ix][None, :]
            acc[y * k:(y + th) * k, x * k:(x + tw) * k] += o * wgt[..., None]
            acc_w[y * k:(y + th) * k, x * k:(x + tw) * k] += wgt
    out = acc / np.maximum(acc_w, 1e-12)[..., None]
    return out[:h * k, :w * k]


def run_resized(run: Callable, image: np.ndarray, size: tuple[int, int], *, scale: int = 1,
                batch: int | None = None) -> np.ndarray:
    """`image` resized to fit `size` (long side), reflect-padded to it, run once, cropped, resized back to H·K×W·K."""
    from PIL import Image

    th, tw = size
    h, w = image.shape[:2]
    f = min(th / h, tw / w)
    rh, rw = max(1, min(th, round(h * f))), max(1, min(tw, round(w * f)))
    small = np.asarray(Image.fromarray(image).resize((rw, rh), Image.Resampling.BICUBIC)) if (rh, rw) != (h, w) else image
    y = _run_chunks(run, [_pad_to(small, th, tw)], batch)[0][:rh * scale, :rw * scale]
    if y.shape[:2] == (h * scale, w * scale):
        return y
    chans = [np.asarray(Image.fromarray(np.ascontiguousarray(y[..., c], np.float32), mode="F")
                        .resize((w * scale, h * scale), Image.Resampling.BICUBIC)) for c in range(3)]
    return np.stack(chans, axis=-1)


def run_any_size(run: Callable, image: np.ndarray, size: tuple[int, int], fit: str = "tiles", *, scale: int = 1,
                 overlap: int | None = None, batch: int | None = None) -> np.ndarray:
    """H×W×3 uint8 through a fixed-size graph by `fit` (module docstring) → H·K×W·K×3 uint8."""
    if fit not in FITS:
        raise StyleForgeError(f"--fit {fit!r}: choose one of {', '.join(FITS)}")
    if fit == "tiles":
        y = run_tiles(run, image, size, scale=scale, overlap=overlap, batch=batch)
    else:
        y = run_resized(run, image, size, scale=scale, batch=batch)
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)

