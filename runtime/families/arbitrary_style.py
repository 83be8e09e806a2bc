"""Runtime interface ``arbitrary_style``: two-graph arbitrary style transfer (Ghiasi et al. 2017, the model behind
Magenta's arbitrary image stylization), imported with ``import-onnx TRANSFORM.onnx --style-encoder PREDICT.onnx``.

    model = styleforge.runtime.load("magenta.sfbundle")
    out = model(photo, style="painting.jpg")                          # H×W×3 uint8 → same size
    out = model(photo, style="painting.jpg", alpha=0.7)               # 70 % painting, 30 % the photo's own style
    out = model(photo, style=["a.jpg", "b.jpg"], style_weights=[0.3, 0.7])

Graph ``predict_style`` maps a style image, resized to ``style_size``², to a style vector (e.g. 100 numbers);
graph ``stylize`` takes the content image and that vector. ``alpha`` interpolates between the content's own
vector (the content resized to ``style_size``² through the predictor) and the style's, as Magenta does; several
styles blend their vectors by weight. Vectors are cached per style image (sha256 of its pixels). numpy + onnxruntime.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ..errors import StyleForgeError
from ..images import as_rgb_array
from ..interfaces import StyleUploadSpec
from ..io_plan import fixed_feeds, image_io, pad_batch
from ..model import RuntimeModel, register_interface
from .wct import resolve_style

#: style vectors kept per model (least recently used dropped)
CACHE_SIZE = 64
#: style images are read at most this large (as WCT bundles read theirs) before resizing to style_size
STYLE_MAX_SIDE = 1024


@dataclass
class ArbitraryStyleConfig:
    """``model.config`` of a two-graph arbitrary-style bundle."""

    style_size: int = 256                    # side the style image is resized to for the predictor
    vector_size: int = 100                   # numbers in the style vector
    style_input: str = "style_vector"        # the transformer's vector input (renamed to this)
    network: str = "imported"


class ArbitraryStyleSpec(StyleUploadSpec):
    """Two-graph arbitrary style (``import-onnx --style-encoder``): content and style image in, each request on its
    own (its own style); int8 quantises the transformer, calibrated with the next image's style vector; the
    predictor stays fp32 (once per style, cached)."""

    name = "arbitrary_style"
    config = ArbitraryStyleConfig
    label = "arbitrary-style"
    commands = ("stylize",)
    endpoint = "stylize"
    main_role = "stylize"
    int8_roles = ("stylize",)
    int8_kept_note = "style predictor: runs once per style, cached"
    calibration_helper_role = "predict_style"
    eager_bench = None

    def request_options(self, query, model, int_param):
        """``alpha``: one number in [0, 1] (the photo's own style at 0)."""
        from ..serve.config import ApiError

        text = query.get("alpha")
        try:
            return {"alpha": None if not text else float(text)}
        except ValueError:
            raise ApiError(400, f"alpha must be a number, got {text[:40]!r}") from None

    def upload_work(self, manifest, part, height, width, geo, params):
        """What the graphs really run: a style upload is resized to ``style_size``² for ``predict_style`` (one run
        at that size, whatever was uploaded); the content runs the transformer at its size and, with ``alpha`` below
        1, also the predictor at ``style_size``² (its own style vector). Cached vectors are still counted: a bound."""
        from ..budget import plan_resized, plan_work

        s = int(manifest.model.config.style_size)
        if part == "style":
            return plan_resized(height, width, (s, s), ArbitraryStyleModel.predictor)
        work = plan_work(height, width, geo)
        alpha = params.get("alpha")
        if alpha is not None and alpha < 1:
            return work.plus(s * s, f"its own style vector at {s}x{s} through {ArbitraryStyleModel.predictor!r}")
        return work

    def bench_call(self, model, inputs):
        """The transformer with the style vector computed once (cached, as serving does)."""
        img = inputs["image"]
        vector = model.blend(img, inputs["style"])
        return lambda: model.stylize_array(img, vector)

    def calibration_feeds(self, bundle, graph, images, fixed, helper=None):
        """Each image as content with the next one's style vector (from `helper`, the parent's predictor)."""
        from PIL import Image

        if graph.role != "stylize":
            return None
        cfg = bundle.manifest.model.config
        pred = bundle.graph("predict_style")
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in graph.input(cfg.style_input).shape]
        feeds = []
        for i, img in enumerate(images):
            style = np.asarray(Image.fromarray(images[(i + 1) % len(images)]).resize((cfg.style_size, cfg.style_size)))
            v = helper.run({"style": image_io(pred.input("style")).encode(style[None])})[pred.outputs[0].name]
            feeds.append({"image": image_io(graph.input("image")).encode(img[None]),
                          cfg.style_input: v.reshape(shape).astype(np.float32), **fixed})
        return feeds


@register_interface(ArbitraryStyleSpec())
class ArbitraryStyleModel(RuntimeModel):
    """A style predictor + a transformer network: any style image at run time."""

    role = "stylize"
    blends_styles = True  # `stylize` takes several --style images (blended by --style-weights)
    predictor = "predict_style"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def _resized(self, image: np.ndarray) -> np.ndarray:
        from PIL import Image

        s = int(self.config.style_size)
        if image.shape[:2] == (s, s):
            return image
        return np.asarray(Image.fromarray(image).resize((s, s), Image.Resampling.BILINEAR))

    def style_vector(self, style) -> np.ndarray:
        """The style vector of a style image (path, ``sample:NAME`` or array), cached by its pixels' sha256."""
        img = resolve_style(style, STYLE_MAX_SIDE) if style is not None else None
        if img is None:
            raise StyleForgeError("arbitrary-style bundles need a style image (--style PATH or style=...)")
        key = hashlib.sha256(np.ascontiguousarray(img).tobytes() + str(img.shape).encode()).hexdigest()
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        g = self.bundle.graph(self.predictor)
        x = image_io(g.input("style")).encode(self._resized(img)[None])
        v = self.run({"style": x, **fixed_feeds(self.bundle, g)}, role=self.predictor)[g.outputs[0].name]
        v.setflags(write=False)  # shared by every caller
        with self._cache_lock:
            self._cache[key] = v
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return v

    def blend(self, content: np.ndarray, styles, weights=None, alpha=None) -> np.ndarray:
        """The vector fed to the transformer: the styles' vectors blended by `weights`, then `alpha` of it and
        1 − alpha of the content's own vector."""
        styles = list(styles) if isinstance(styles, (list, tuple)) else [styles]
        w = np.ones(len(styles), np.float64) / len(styles) if weights is None else np.asarray(weights, np.float64)
        if w.shape != (len(styles),) or not np.all(np.isfinite(w)) or w.sum() <= 0:
            raise StyleForgeError(f"--style-weights: give {len(styles)} finite weights (one per --style) with a "
                                  f"positive sum, got {np.asarray(weights).tolist()}")
        w = w / w.sum()
        v = sum(wk * self.style_vector(s).astype(np.float64) for wk, s in zip(w, styles))
        a = 1.0 if alpha is None else float(alpha)
        if not 0.0 <= a <= 1.0:
            raise StyleForgeError(f"alpha must lie in [0, 1], got {a}")
        if a < 1.0:
            v = a * v + (1 - a) * self.style_vector(content).astype(np.float64)
        spec = self.bundle.graph(self.role).input(self.config.style_input)
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in spec.shape]  # the transformer's own layout
        return v.reshape(shape).astype(np.dtype(spec.dtype) if spec.dtype.startswith("float") else np.float32)

    def stylize_array(self, content: np.ndarray, vector: np.ndarray, fit: str | None = None) -> np.ndarray:
        g = self.bundle.graph(self.role)
        io_in, io_out = image_io(g.input("image")), image_io(g.output("stylized"))
        sc = self.manifest.size_constraints

        def raw(batch):
            feeds = {"image": io_in.encode(batch), self.config.style_input: vector, **fixed_feeds(self.bundle, g)}
            return self.run(feeds, role=self.role)["stylized"]

        if sc.fixed_size:
            from ..fixed_size import run_any_size

            return run_any_size(lambda b: io_out.to_unit255(raw(b)), content, tuple(sc.fixed_size), fit or "tiles",
                                scale=sc.scale)
        batch, (h, w) = pad_batch(content[None], self.size_multiple)
        return io_out.decode(raw(batch), (h * sc.scale, w * sc.scale))[0]

    def __call__(self, content, style=None, alpha=None, style_weights=None, fit=None, **unsupported) -> np.ndarray:
        if unsupported:
            raise StyleForgeError(f"arbitrary-style bundles do not take {', '.join(sorted(unsupported))} "
                                  "(they take style=, alpha=, style_weights=, fit=)")
        if style is None:
            raise StyleForgeError("arbitrary-style bundles need a style image (--style PATH or style=...)")
        content = as_rgb_array(content)
        return self.stylize_array(content, self.blend(content, style, style_weights, alpha), fit)
