"""Work bounded before it is done: how many pixels an image makes a bundle's graphs process — after padding to the
bundle's size rule (runtime/io_plan.py) and, for large images, tiling with context margins (runtime/tiling.py) —
checked against a budget from the image header alone, before a pixel is decoded.

Two limits, because two things run out: ``max_pixels`` bounds the *time* of one request (every graph input pixel
of every tile and statistics pass), ``max_run_pixels`` the *memory* of one graph run (an untiled image, or a batch
of them). A 2,000,000×8 strip is 16 Mpx as a picture but 512 Mpx of work for a translator that pads to 256, and
thousands of mostly-margin tiles when tiled: the plan counts what would really run. An image resized before its
graph runs (an arbitrary-style bundle's style image, resized to the predictor's input, :func:`plan_resized`) counts
the size that runs; its decoded pixels are still held to ``max_pixels``. Torch-free, numpy-free.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import ImageError
from .io_plan import padded_size

#: default work per request on the server: 32 Mpx — a 12 Mpx phone photo (4032×3024) is 20.2 M of work once its
#: tiles count their context margins, so 16 M refused the photos people take; 32 M still bounds one request to
#: ~2× that (about 20 s of the demo stylizer on 2 cores) and stops the 2,000,000×8 strip (512 M padded)
SERVE_MAX_PIXELS = 32_000_000
#: default pixels of one untiled graph run (image or batch) on the server: 2048² — measured on this machine (issue
#: 20): a 16 Mpx untiled stylizer run peaked at 2.7 GB RSS, so 4 Mpx keeps one run near 0.7 GB
SERVE_MAX_RUN_PIXELS = 2048 * 2048
#: default work per image on the command line (the user's own machine and photos): 64 Mpx
CLI_MAX_PIXELS = 64_000_000


class BudgetError(ImageError):
    """An image whose work is over a budget; `limit` is the limit it broke (the server answers 413)."""

    def __init__(self, message: str, limit: int):
        super().__init__(message)
        self.limit = limit


@dataclass(frozen=True)
class Geometry:
    """What decides a bundle's work per image for one graph role: its size rule and its tiling graphs (if any)."""

    multiple: int = 1
    min_side: int = 1
    margin: int | None = None            # context px around a tile; None: the role has no tiling graphs
    align: int = 1
    norm_layers: int = 0
    fixed: tuple[int, int] | None = None  # the graph's one H×W (runtime/fixed_size.py runs it in windows)
    scale: int = 1                       # output side = input side × scale: the output's pixels are counted
    batch: int | None = None             # a fixed graph batch (windows run in chunks of it, the last one filled)

    @property
    def can_tile(self) -> bool:
        return self.margin is not None

    @classmethod
    def of(cls, manifest, role: str) -> "Geometry":
        """The geometry of graph `role` of a bundle, from its manifest."""
        sc = manifest.size_constraints
        m = max(1, int(sc.multiple_of))
        shape = {"fixed": tuple(int(v) for v in sc.fixed_size) if sc.fixed_size else None,
                 "scale": max(1, int(sc.scale)), "batch": _fixed_batch(manifest, role)}
        t = manifest.tiling_for(role) if role else None
        if t is None:
            return cls(m, max(m, int(sc.min_side)), **shape)
        return cls(m, max(m, int(sc.min_side)), int(t.margin), max(1, int(t.align)), int(t.norm_layers), **shape)


def _fixed_batch(manifest, role: str) -> int | None:
    """The batch dimension of graph `role`'s image input when it is a number (else None: any batch)."""
    if not role or role not in {g.role for g in manifest.graphs}:
        return None
    g = manifest.graph(role)
    spec = g.input("image") or (g.inputs[0] if g.inputs else None)
    dim = spec.shape[0] if spec is not None and spec.shape else None
    return dim if isinstance(dim, int) and dim > 0 else None


@dataclass(frozen=True)
class Work:
    """What running one image costs: `pixels` of graph input in all, `run_pixels` in the largest single run."""

    height: int
    width: int
    padded: tuple[int, int]              # the whole image after padding (the untiled run's size)
    tiled: bool
    pixels: int
    run_pixels: int
    windows: int = 0                     # fixed-size graph: the windows run (runtime/fixed_size.py), else 0
    scale: int = 1                       # pixels are counted at the output's size (× scale²) where it is larger
    resized_for: str = ""                # the graph the image is resized for (`padded` is that size), else ""
    decoded: int = 0                     # pixels decoded before that resize (checked apart: :meth:`Budget.check`)
    also: str = ""                       # another run the image makes, counted in `pixels` (:meth:`plus`)

    def how(self) -> str:
        """How the work was counted, for an error message."""
        k = f", output ×{self.scale} per side" if self.scale != 1 else ""
        k += f", {self.also}" if self.also else ""
        if self.resized_for:
            return f"resized to {self.padded[1]}x{self.padded[0]} for graph {self.resized_for!r}{k}"
        if self.windows:
            return f"in {self.windows} fixed-size windows{k}"
        if self.tiled:
            return f"in tiles with their margins{k}"
        return f"padded to {self.padded[1]}x{self.padded[0]}{k}"

    def plus(self, pixels: int, what: str) -> "Work":
        """This work and one more graph run of `pixels` on the same image (`what`: that run, for :meth:`how`)."""
        also = f"{self.also}, {what}" if self.also else what
        return replace(self, pixels=self.pixels + pixels, run_pixels=max(self.run_pixels, pixels), also=also)


def _tiled_pixels(h: int, w: int, geo: Geometry, tile: int, overlap: int | None) -> tuple[int, int]:
    """(total, largest) input pixels of the tiles TiledRunner would run: each core plus its margin, clipped to the
    image, padded to the alignment."""
    from .tiling import tile_spans

    a = geo.align
    if overlap is None:
        overlap = min(32, tile // 4 // a * a)
    m = geo.margin or 0

    def sides(size: int) -> list[int]:
        spans = tile_spans(size, tile, overlap, a)
        return [-(-(min(size, e + m) - max(0, s - m)) // a) * a for s, e in spans]

    ys, xs = sides(h), sides(w)
    return sum(ys) * sum(xs), max(ys) * max(xs)


def plan_work(h: int, w: int, geo: Geometry, *, tile: int | None = None, overlap: int | None = None,
              exact_stats: bool = False, stats_pixels: int | None = None, fit: str | None = None) -> Work:
    """The work of an h×w image: untiled, or tiled when `tile` is given or the image is over AUTO_TILE_PIXELS and
    the role has tiling graphs (the rule stylize/translate and the server follow); on a fixed-size graph, its
    windows by `fit` (runtime/fixed_size.py); × scale² where the graph's output is larger than its input."""
    from .tiling import AUTO_TILE_PIXELS, STATS_PIXELS

    if geo.fixed:
        return _fixed_work(h, w, geo, fit)
    k2 = geo.scale * geo.scale
    padded = padded_size(h, w, geo.multiple, geo.min_side)
    if tile is None and geo.can_tile and h * w > AUTO_TILE_PIXELS:
        tile = 512
    if tile is None or not geo.can_tile:
        n = padded[0] * padded[1] * k2
        return Work(h, w, padded, False, n, n, scale=geo.scale)
    total, largest = _tiled_pixels(h, w, geo, tile, overlap)
    stats = min(h * w, stats_pixels or STATS_PIXELS)
    if exact_stats:  # one probe pass over every tile per norm layer, then the tiled pass
        total *= geo.norm_layers + 1
    return Work(h, w, padded, True, total * k2 + stats, max(largest * k2, stats), scale=geo.scale)


def plan_resized(h: int, w: int, size: tuple[int, int], graph: str) -> Work:
    """The work of an h×w image that is resized to `size` (H, W) before graph `graph` runs it once (a style
    predictor's input): that size, whatever the upload's. The h×w pixels decoded before the resize are kept in
    ``decoded``: the budget still bounds them by ``max_pixels``, since on the server nothing else does below
    Pillow's decompression-bomb limit (89 Mpx warns, 179 Mpx refuses; runtime/image_guard.py)."""
    n = int(size[0]) * int(size[1])
    return Work(h, w, (int(size[0]), int(size[1])), False, n, n, resized_for=graph, decoded=h * w)


def _fixed_work(h: int, w: int, geo: Geometry, fit: str | None) -> Work:
    """The work of an h×w image on a fixed-size graph as runtime/fixed_size.py runs it: ``tiles`` runs one row of
    windows at a time (in chunks of a fixed batch, the last filled with repeats); ``resize`` one (batch of) window.
    Each window counts its graph input or, when larger, its output (× scale²)."""
    from .fixed_size import OVERLAP_FRACTION, window_starts

    th, tw = geo.fixed
    win = th * tw * geo.scale * geo.scale
    ph, pw = max(h, th), max(w, tw)
    if fit == "resize":
        n = (geo.batch or 1) * win
        return Work(h, w, (th, tw), False, n, n, windows=1, scale=geo.scale)
    overlap = int(min(th, tw) * OVERLAP_FRACTION)
    ny, nx = len(window_starts(ph, th, overlap)), len(window_starts(pw, tw, overlap))
    per_run = geo.batch or nx
    runs = ny * -(-nx // per_run)
    return Work(h, w, (ph, pw), True, runs * per_run * win, per_run * win, windows=ny * nx, scale=geo.scale)


@dataclass(frozen=True)
class Budget:
    """Limits on one image's work: all its graph input pixels (`max_pixels`) and one graph run (`max_run_pixels`;
    None: no separate limit)."""

    max_pixels: int = SERVE_MAX_PIXELS
    max_run_pixels: int | None = SERVE_MAX_RUN_PIXELS

    def check(self, work: Work, what: str, *, where: str = "") -> None:
        """Refuse `work` over a limit with one line saying the image, its work and the limit (BudgetError): its
        pixels, its largest run, and the pixels decoded before a resize (``decoded``)."""
        size = f"{work.width}x{work.height}"
        if work.pixels > self.max_pixels:
            raise BudgetError(f"{what}: {size} is {work.pixels:,} pixels of work ({work.how()}), over the "
                              f"{self.max_pixels:,}-pixel limit{where}", self.max_pixels)
        if self.max_run_pixels is not None and work.run_pixels > self.max_run_pixels:
            hint = "" if work.tiled else " (a bundle with tiling graphs runs large images in tiles)"
            raise BudgetError(f"{what}: {size} needs {work.run_pixels:,} pixels in one graph run ({work.how()}), "
                              f"over the {self.max_run_pixels:,}-pixel limit of one run{where}{hint}",
                              self.max_run_pixels)
        if work.decoded > self.max_pixels:
            raise BudgetError(f"{what}: {size} is {work.decoded:,} pixels to decode before it is {work.how()}, over "
                              f"the {self.max_pixels:,}-pixel limit{where}", self.max_pixels)

    def batch_pixels(self) -> int | None:
        """The most pixels one batched run may hold (None: unbounded)."""
        return self.max_run_pixels

