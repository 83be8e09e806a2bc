"""Images of any size with flat memory: a graph run as overlapping tiles, blended without seams, with shared
instance-norm statistics (docs/serve.md, "Images of any size"). numpy + onnxruntime; the graphs come from the
bundle (export/tiling/: ``<role>.stats``, ``<role>.tiled``, ``<role>.probe`` and the manifest's ``tiling``).

* Statistics: instance norm normalises by the statistics of the whole image, so tiles must share them or each
  tile gets its own contrast. By default they come from ONE downscaled pass of the image through ``<role>.stats``,
  as large as ``stats_pixels`` allows (1 Mpx by default): tiles then agree with each other exactly (no seams),
  and the result differs from an untiled run only by the statistics' scale dependence (measured in the doc).
  ``exact_stats``: the statistics of the full-resolution image, accumulated over tiles layer by layer (pass k
  runs ``<role>.probe`` over every tile with layers < k already exact): untiled-identical output at the cost of
  one tiled pass per norm layer (15 for the stylizer).
* Tiles: cores of about ``tile`` px (ceil(side / tile) per axis, evenly spaced) at origins aligned to the graph's stride, each run with ``margin`` px of real image
  context on every side (≥ the receptive radius; reflect padding only at the true image border, as untiled) —
  so a tile's core is what the untiled graph computes there — and neighbours blended over ``overlap`` px with a
  cosine window (weights sum to 1).
* Memory: the uint8 input and output, one tile row of float accumulators, one tile's activations. ONNX
  Runtime's CPU arena is off for these sessions (it would keep a block per tile shape).
"""
from __future__ import annotations

import math

import numpy as np

from .errors import StyleForgeError
from .io_plan import image_io, pad_batch

#: pixels of the downscaled statistics pass at most (1024²: measured ~280 MB peak for the stylizer at width 0.125,
#: ~740 MB at width 1.0 with the arena off; docs/serve.md)
STATS_PIXELS = 1024 * 1024
#: images above this many pixels are tiled automatically by stylize/translate (2048²)
AUTO_TILE_PIXELS = 2048 * 2048


def cosine_ramp(n: int) -> np.ndarray:
    """Weights rising from 0 to 1 over n samples; a ramp plus its mirror image sums to 1."""
    t = (np.arange(n, dtype=np.float64) + 0.5) / max(n, 1)
    return (0.5 - 0.5 * np.cos(np.pi * t)).astype(np.float32)


def tile_spans(size: int, tile: int, overlap: int, align: int) -> list[tuple[int, int]]:
    """Cores [start, end) covering [0, size): ceil(size / tile) of them, evenly spaced, each overlapping the next by
    at least `overlap`, origins aligned (cores grow by up to `overlap` + `align` past `tile` rather than adding a
    tile: an extra tile row costs a whole row of margins)."""
    n = max(1, math.ceil(size / tile))
    if n == 1:
        return [(0, size)]
    core = math.ceil((size + (n - 1) * overlap) / n / align) * align + align
    last = math.ceil((size - core) / align) * align
    starts = [min(last, (round(i * last / (n - 1)) // align) * align) for i in range(n)]
    return [(s, min(s + core, size)) for s in starts]


def tile_starts(size: int, tile: int, overlap: int, align: int) -> list[int]:
    return [s for s, _ in tile_spans(size, tile, overlap, align)]


def _window(length: int, before: int, after: int) -> np.ndarray:
    w = np.ones(length, np.float32)
    if before > 0:
        w[:before] = cosine_ramp(before)
    if after > 0:
        w[length - after:] *= cosine_ramp(after)[::-1]
    return w


class TiledRunner:
    """Run graph `role` of `model` (a RuntimeModel whose bundle has tiling graphs) on H×W×3 uint8 images of any
    size: ``TiledRunner(model, "stylize", tile=512)(image, {"style_index": np.array([2])})`` → H×W×3 uint8."""

    def __init__(self, model, role: str, *, tile: int = 512, overlap: int | None = None, stats_pixels: int = STATS_PIXELS,
                 exact_stats: bool = False, threads: int | None = None):
        spec = model.manifest.tiling_for(role)
        if spec is None:
            raise StyleForgeError(f"{model.bundle.path}: no tiling graphs for {role!r} (bundles exported before "
                                  "tiling existed: add them with `styleforge tiling add BUNDLE`)")
        self.spec, self.model = spec, model
        a = spec.align
        if overlap is None:  # 32 px, or a quarter of a small tile
            overlap = min(32, tile // 4 // a * a)
        if tile < 2 * a or tile % a or overlap % a or not 0 <= overlap < tile:
            raise StyleForgeError(f"--tile {tile} / overlap {overlap}: the tile must be a multiple of {a} of at least "
                                  f"{2 * a}, the overlap a multiple of {a} smaller than the tile")
        if stats_pixels < 32 * 32:
            raise StyleForgeError(f"--stats-pixels {stats_pixels}: at least {32 * 32}")
        self.tile, self.overlap, self.stats_pixels, self.exact = tile, overlap, stats_pixels, exact_stats
        from .backends import open_session

        backend = model.backend if str(model.backend).startswith("ort") else "ort-cpu"  # engines have fixed shapes
        # opened lazily (the first large image, maybe hours after load()): ONNX Runtime runners build sessions from
        # Bundle.graph_bytes, so these graphs and their external weights are hash-checked now, not only at load()
        options = {"threads": threads or model.options.get("threads"), "mem_arena": False}
        self._sessions = {r: open_session(model.bundle, r, backend, **options)
                          for r in (spec.stats_role, spec.tiled_role)}
        self._open_probe = lambda: open_session(model.bundle, spec.probe_role, backend, **options)
        self.output = self._sessions[spec.tiled_role].output_names[0]
        # the image tensors as the manifest describes them (an imported graph's range, layout, BGR, mean/std)
        tiled = model.manifest.graph(spec.tiled_role)
        self._in, self._out = image_io(tiled.input("image")), image_io(tiled.output(self.output))

    def _encode(self, image: np.ndarray) -> tuple[np.ndarray, int]:
        """H×W×3 uint8 → the graph's image tensor, padded to the alignment; and its padded height."""
        batch, _ = pad_batch(image[None], self.spec.align)
        return self._in.encode(batch), batch.shape[1]

    # --- statistics ------------------------------------------------------------------------------
    def stats_of(self, image: np.ndarray, feeds: dict) -> dict[str, np.ndarray]:
        """Every norm layer's mean/var for `image` at its own size (one run of the stats graph)."""
        sess = self._sessions[self.spec.stats_role]
        names = [n for n in sess.output_names if n.startswith("in") and n.endswith(("_mean", "_var"))]
        out = sess.run({"image": self._encode(image)[0], **feeds})
        return {n: out[n] for n in names}

    def downscaled_stats(self, image: np.ndarray, feeds: dict) -> dict[str, np.ndarray]:
        """Statistics from one pass at the largest size within ``stats_pixels`` (area-averaged downscale)."""
        from PIL import Image

        h, w = image.shape[:2]
        s = min(1.0, math.sqrt(self.stats_pixels / (h * w)))
        if s < 1.0:
            a = self.spec.align
            size = (max(2 * a, round(w * s)), max(2 * a, round(h * s)))
            image = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BOX))
        return self.stats_of(image, feeds)

    def exact_stats(self, image: np.ndarray, feeds: dict, progress=None) -> dict[str, np.ndarray]:
        """Full-resolution statistics over tiles, layer by layer (pass k: layers < k exact, layer k accumulated
        over every pixel once, in float64)."""
        probe = self._open_probe()
        stats = self.downscaled_stats(image, feeds)
        h, w = image.shape[:2]
        a, m = self.spec.align, self.spec.margin
        hp, wp = h + (-h) % a, w + (-w) % a
        ys, xs = tile_starts(h, self.tile, self.overlap, a), tile_starts(w, self.tile, self.overlap, a)
        own_y = [(y, ys[i + 1] if i + 1 < len(ys) else hp) for i, y in enumerate(ys)]  # disjoint ownership cells
        own_x = [(x, xs[i + 1] if i + 1 < len(xs) else wp) for i, x in enumerate(xs)]
        for k in range(self.spec.norm_layers):
            name = f"in{k}_x"
            s1 = s2 = None
            count = 0
            for oy0, oy1 in own_y:
                for ox0, ox1 in own_x:
                    cy0, cx0, cy1, cx1 = max(0, oy0 - m), max(0, ox0 - m), min(h, oy1 + m), min(w, ox1 + m)
                    x, xh = self._encode(image[cy0:cy1, cx0:cx1])
                    act = probe.run({"image": x, **feeds, **stats})[name]
                    stride = xh // act.shape[2]
                    core = act[0, :, (oy0 - cy0) // stride:(oy1 - cy0) // stride,
                               (ox0 - cx0) // stride:(ox1 - cx0) // stride].astype(np.float64)
                    s1 = core.sum((1, 2)) if s1 is None else s1 + core.sum((1, 2))
                    s2 = (core ** 2).sum((1, 2)) if s2 is None else s2 + (core ** 2).sum((1, 2))
                    count += core.shape[1] * core.shape[2]
            mean = s1 / count
            stats[f"in{k}_mean"] = mean.astype(np.float32)[None, :, None, None]
            stats[f"in{k}_var"] = np.maximum(s2 / count - mean ** 2, 0).astype(np.float32)[None, :, None, None]
            if progress:
                progress(k + 1, self.spec.norm_layers)
        return stats

    # --- tiles -------------------------------------------------------------------------------------
    def __call__(self, image: np.ndarray, feeds: dict | None = None, stats: dict | None = None) -> np.ndarray:
        feeds = dict(feeds or {})
        if stats is None:
            stats = self.exact_stats(image, feeds) if self.exact else self.downscaled_stats(image, feeds)
        return self.run_tiles(image, feeds, stats)

    def run_tiles(self, image: np.ndarray, feeds: dict, stats: dict, out_float: bool = False) -> np.ndarray:
        """The tiled pass with given statistics; rows are written out as soon as no later tile touches them."""
        h, w = image.shape[:2]
        ys = tile_spans(h, self.tile, self.overlap, self.spec.align)
        xs = tile_spans(w, self.tile, self.overlap, self.spec.align)
        out = np.empty((h, w, 3), np.float32 if out_float else np.uint8)
        spans_x = []
        for ix, (x0, x1) in enumerate(xs):
            before = 0 if ix == 0 else xs[ix - 1][1] - x0
            after = 0 if ix == len(xs) - 1 else x1 - xs[ix + 1][0]
            spans_x.append((x0, x1, _window(x1 - x0, before, after)))
        prev = prev_w = None
        prev_y0 = 0
        for iy, (y0, y1) in enumerate(ys):
            last = iy == len(ys) - 1
            before = 0 if iy == 0 else ys[iy - 1][1] - y0
            wy = _window(y1 - y0, before, 0 if last else y1 - ys[iy + 1][0])
            acc = np.zeros((y1 - y0, w, 3), np.float32)
            acc_w = np.zeros((y1 - y0, w), np.float32)
            for x0, x1, wx in spans_x:
                core = self._tile(image, y0, y1, x0, x1, feeds, stats)
                weight = wy[:, None] * wx[None, :]
                acc[:, x0:x1] += core * weight[..., None]
                acc_w[:, x0:x1] += weight
            if prev is not None:  # the previous strip's rows that overlap this one
                ov = prev_y0 + prev.shape[0] - y0
                acc[:ov] += prev[prev.shape[0] - ov:]
                acc_w[:ov] += prev_w[prev.shape[0] - ov:]
            done = (y1 - y0) if last else ys[iy + 1][0] - y0
            block = acc[:done] / np.maximum(acc_w[:done, :, None], 1e-12)
            out[y0:y0 + done] = block if out_float else np.clip(np.rint(block), 0, 255).astype(np.uint8)
            prev, prev_w, prev_y0 = acc, acc_w, y0
        return out

    def _tile(self, image, y0, y1, x0, x1, feeds, stats) -> np.ndarray:
        """The graph's output on the core [y0:y1, x0:x1], computed with `margin` px of real context around it."""
        h, w = image.shape[:2]
        m = self.spec.margin
        cy0, cx0, cy1, cx1 = max(0, y0 - m), max(0, x0 - m), min(h, y1 + m), min(w, x1 + m)
        x, _ = self._encode(image[cy0:cy1, cx0:cx1])
        y = self._sessions[self.spec.tiled_role].run({"image": x, **feeds, **stats})[self.output]
        return self._out.to_unit255(y)[0, y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0]
