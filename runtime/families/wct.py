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
from ..manifest import Tolerance
from ..interfaces import InterfaceSpec
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


class WCTSpec(InterfaceSpec):
    """Universal style transfer (WCT): content and style image in; each request runs alone (its own style);
    int8 quantises only the coarsest level's decoder; its PyTorch bench row is the exact pipeline."""

    name = "wct"
    config = WCTConfig
    label = "WCT"
    legacy_family = "wct"
    commands = ("stylize", "texture")
    endpoint = "stylize"
    takes_style = True
    main_role = "stylize"
    int8_roles = ("stylize", "stylize_pair")
    int8_kept_note = "statistics graph: runs once per style, cached"
    calibration_helper_role = "encode_style"
    int8_recipe = "wct-decoder"
    eager_bench = "exact"
    #: convert's image limits per precision vs PyTorch fp32 on the golden cases (export/convert/profiles.py):
    #: (tolerance, the measurement it rests on)
    convert_limits = {
        "fp16": (Tolerance(max_abs=32.0, mean_abs=2.0, p99_abs=10.0, min_cosine=0.9995, min_psnr=40.0),
                 "fp16 vs PyTorch fp32 NS pipeline, graph on ORT CPU (linear algebra fp32; weights fp16): see docs/deploy.md "
                 "(five-level and two-level bundles); limits ~5x above to cover fp16 arithmetic on GPUs (5x the CPU error on "
                 "the stylizer)"),
        "int8": (Tolerance(max_abs=64.0, mean_abs=4.0, p99_abs=20.0, min_cosine=0.998, min_psnr=32.0),
                 "int8 (coarsest level's decoder only) vs PyTorch fp32 NS pipeline: two-level tiny bundle max 22.1 mean 2.2 "
                 "p99 9.7 PSNR>=37.9 cos>=0.9991; five-level bundle as fp32 (its level-5 decoder runs at 1/16 of the "
                 "golden sizes); limits ~2x / 6 dB beyond the worst"),
    }

    def upgrade_v1(self, cfg, top):
        """Schema 1 kept the WCT settings in a top-level ``wct`` object."""
        w = dict(top.pop("wct", {}))
        w.pop("ns_vs_exact_tolerances", None)
        return "wct", w

    def request_options(self, query, model, int_param):
        """``alpha``: one number or one per level, comma-separated; its count and range are checked here, before the
        request is queued (a bad alpha is the client's 400, not a failed run)."""
        from ..serve.config import ApiError

        text = query.get("alpha")
        try:
            alpha = None if not text else [float(v) for v in text.split(",")]
            if alpha is not None:
                model._alpha(alpha)
        except ValueError:
            raise ApiError(400, f"alpha must be a number or comma-separated numbers, got {text[:40]!r}") from None
        except StyleForgeError as e:
            raise ApiError(400, str(e)) from None
        return {"alpha": alpha}

    def runs_alone(self, payload):
        """Always: each request carries its own style image."""
        return True

    def run_batch(self, model, payloads, tiled=False):
        """Each request on its own style."""
        return [model(p["image"], style=p["style"], alpha=p.get("alpha")) for p in payloads]

    def warm_up(self, model, image):
        """The image stylized by its own mirror."""
        model(image, style=image[::-1].copy())

    def bench_call(self, model, inputs):
        """The ``stylize`` graph with the style statistics computed once (cached, as serving does)."""
        stats = model.style_stats(inputs["style"])
        alpha = model._alpha(1.0)
        img = inputs["image"]
        return lambda: model.stylize_array(img, stats, alpha)

    def calibration_feeds(self, bundle, graph, images, fixed, helper=None):
        """Each image as content with the next one as style (its statistics from `helper`, the parent's
        ``encode_style`` session, when the graph takes statistics rather than a style image)."""
        def encode(role, name, img):
            return image_io(bundle.graph(role).input(name)).encode(img[None])

        levels = len(bundle.manifest.model.config.levels)
        feeds = []
        for i, img in enumerate(images):
            style = images[(i + 1) % len(images)]
            f = {"content": encode(graph.role, "content", img), "alpha": np.ones(levels, np.float32)}
            if graph.input("style") is not None:
                f["style"] = encode(graph.role, "style", style)
            else:
                f.update(helper.run({"style": encode("encode_style", "style", style)}))
            feeds.append(f)
        return feeds


@register_interface(WCTSpec())
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
