"""Runtime family ``wct``: universal style transfer bundles (any style image at run time).

    model = styleforge.runtime.load("wct.sfbundle")
    out = model(content, style="style.jpg", alpha=0.8)           # H×W×3 uint8 → H×W×3 uint8
    out = model(content, style=img, alpha=[1, 1, .8, .6, .6], photo_smooth="fast")
    tex = model.texture("style.jpg", size=512)

Style statistics (per-level mean and colouring matrix, graph ``encode_style``) are cached by the
sha256 of the style image's pixels, so a repeated style costs only the content path
(graph ``stylize``). numpy + onnxruntime only.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

from dataclasses import dataclass, field

from ..errors import StyleForgeError
from ..images import as_rgb_array, load_image
from ..io_plan import image_io, pad_batch
from ..model import RuntimeModel, register_interface

PHOTO_SMOOTH = (None, "fast", "exact")


def resolve_style(style, max_side: int | None = None) -> np.ndarray:
    """A style given as a path, ``sample:NAME`` (bundled images; needs scikit-image) or an image array."""
    if style is None:
        raise StyleForgeError("WCT bundles need a style image (--style PATH or style=...)")
    if isinstance(style, (str, bytes)) or hasattr(style, "__fspath__"):
        s = str(style)
        if s.startswith("sample:"):
            from ...train.core.samples import resolve_image  # numpy + scikit-image; no torch

            return resolve_image(s, max_side=max_side)
        return load_image(s, max_side=max_side)
    return as_rgb_array(style)


@dataclass
class WCTConfig:
    """``model.config`` of a WCT bundle: its levels and the whitening–colouring policy its graphs hold."""

    levels: list[int]                        # relu{L}_1 levels, ascending
    levels_order: list[int]                  # the order the graphs apply them (coarse first)
    photo: bool = False                      # PhotoWCT unpooling
    mode: str = "ns"                         # ns (portable Newton–Schulz graph) | plugin (TensorRT node)
    ns_iters: int = 20
    reg: float = 0.0                         # whitening ridge, relative to the mean eigenvalue
    color_reg: float | None = None           # colouring ridge, relative (older bundles: absolute floors, not recorded)
    drop_eig: float = 0.0
    regulariser: str = ""
    alpha: str = "per level, coarse first"
    training: str = ""
    decoder_steps: dict[str, int] = field(default_factory=dict)
    ns_vs_exact_cases: list[str] = field(default_factory=list)
    plugin_graphs: list[str] = field(default_factory=list)


@register_interface("wct", config=WCTConfig)
class WCTModel(RuntimeModel):
    cache_size = 16
    #: Style images are downsized so their longer side fits (statistics barely change; time does).
    style_max_side = 1024

    def __init__(self, bundle, backend: str = "auto", **options):
        super().__init__(bundle, backend, **options)
        self.wct = self.config
        self.levels = list(self.config.levels_order or self.config.levels)
        self._cache: OrderedDict[str, dict[str, np.ndarray]] = OrderedDict()
        self._cache_lock = threading.Lock()  # guards _cache and cache_hits (never held while a graph runs)
        self.cache_hits = 0

    # --- style statistics -----------------------------------------------------------------------
    def style_key(self, style: np.ndarray) -> str:
        h = hashlib.sha256()
        h.update(str(style.shape).encode())
        h.update(np.ascontiguousarray(style).tobytes())
        return h.hexdigest()

    def style_stats(self, style) -> dict[str, np.ndarray]:
        """{mean{L}, color{L}} for a style image, from the cache when this image was seen before."""
        img = resolve_style(style, self.style_max_side)
        key = self.style_key(img)
        with self._cache_lock:
            stats = self._cache.get(key)
            if stats is not None:
                self._cache.move_to_end(key)
                self.cache_hits += 1
                return stats
        # computed outside the lock: two threads may both encode one new style (same result; the second insert
        # refreshes the entry), and other styles are never held up behind a graph run
        batch, _ = pad_batch(img[None], self.size_multiple)
        stats = self.run({"style": image_io(self.bundle.graph("encode_style").input("style")).encode(batch)},
                         role="encode_style")
        for v in stats.values():
            v.setflags(write=False)  # cached arrays are shared by every caller: read-only
        with self._cache_lock:
            self._cache[key] = stats
            self._cache.move_to_end(key)
            while len(self._cache) > max(0, int(self.cache_size)):
                self._cache.popitem(last=False)
        return stats

    def _alpha(self, alpha) -> np.ndarray:
        n = len(self.levels)
        a = np.asarray(1.0 if alpha is None else alpha, dtype=np.float32).reshape(-1)
        if a.size == 1:
            a = np.repeat(a, n)
        if a.size != n:
            raise StyleForgeError(f"alpha: give one value or {n} (one per level, coarse first: "
                                  f"{', '.join(f'relu{l}_1' for l in self.levels)}), got {a.size}")
        if not np.all((a >= 0) & (a <= 1)):
            raise StyleForgeError(f"alpha must lie in [0, 1], got {a.tolist()}")
        return a

    # --- stylisation ------------------------------------------------------------------------------
    def stylize_array(self, content: np.ndarray, stats: dict, alpha: np.ndarray) -> np.ndarray:
        g = self.bundle.graph("stylize")
        batch, crop = pad_batch(content[None], self.size_multiple)
        feeds = {"content": image_io(g.input("content")).encode(batch), "alpha": alpha, **stats}
        out = self.run(feeds, role="stylize")["image"]
        return image_io(g.output("image")).decode(out, crop)[0]

    def __call__(self, content, style=None, alpha=None, photo_smooth=None, **unsupported):
        if unsupported:
            raise StyleForgeError(f"WCT bundles do not take {', '.join(sorted(unsupported))} "
                                  "(they take style=, alpha=, photo_smooth=)")
        if photo_smooth not in PHOTO_SMOOTH:
            raise StyleForgeError(f"photo_smooth must be fast or exact, got {photo_smooth!r}")
        content = as_rgb_array(content)
        out = self.stylize_array(content, self.style_stats(style), self._alpha(alpha))
        return self.smooth(out, content, photo_smooth)

    @staticmethod
    def smooth(out: np.ndarray, content: np.ndarray, photo_smooth):
        if photo_smooth == "fast":
            from ..guided_filter import smooth_fast

            return smooth_fast(out, content)
        if photo_smooth == "exact":
            try:
                import scipy  # noqa: F401
            except ImportError:
                raise StyleForgeError("photo_smooth='exact' needs SciPy (pip install scipy); use 'fast' without it") from None
            from ...train.wct.matting_smooth import smooth_exact  # numpy + SciPy only

            return smooth_exact(out, content)
        return out

    def texture(self, style, size=512, passes: int = 3, seed: int = 0) -> np.ndarray:
        """Texture synthesis: noise with the style's colour statistics, whitened–coloured at every
        level (alpha 1), `passes` times. `size`: int or (H, W)."""
        h, w = (size, size) if isinstance(size, int) else size
        img = resolve_style(style, self.style_max_side)
        stats = self.style_stats(img)
        rng = np.random.default_rng(seed)
        f = img.reshape(-1, 3).astype(np.float64)
        x = np.clip(f.mean(0) + f.std(0) * rng.standard_normal((h, w, 3)), 0, 255).astype(np.uint8)
        alpha = self._alpha(1.0)
        for _ in range(max(1, passes)):
            x = self.stylize_array(x, stats, alpha)
        return x
