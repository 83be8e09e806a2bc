"""Runtime for latent-space generator bundles (dcgan, wgan, wgan-gp, cgan, pgan); numpy + ORT only.

    from styleforge.runtime import load
    g = load("digits.sfbundle")
    z = g.latents([0, 1, 2])                 # one N(0, I) latent per seed (numpy default_rng(seed))
    imgs = g.generate(z, labels=[3, 3, 3])   # list of H×W×3 uint8
    imgs, act = g.generate_dissect(z, "block1", unit_scale)   # + that layer's activation

Seeds are the latent convention everywhere: seed s → ``np.random.default_rng(s).standard_normal(nz)``.
"""
from __future__ import annotations

import numpy as np

from dataclasses import dataclass, field

from ..errors import StyleForgeError
from ..io_plan import fixed_feeds, image_io
from ..manifest import Tolerance
from ..interfaces import InterfaceSpec, TritonGraph
from ..model import RuntimeModel, register_interface


@dataclass
class DissectLayer:
    """A generator layer that has a ``generate_dissect.<name>`` graph (``unit_scale`` input)."""

    name: str
    channels: int
    side: int


@dataclass
class Growth:
    """Where a progressive GAN's growth stood in the checkpoint a bundle came from, and what the graph outputs."""

    level: int                 # resolution level reached (side 4·2^level)
    alpha: float               # fade-in of that level (1: stable)
    trained_side: int
    final_side: int
    output: str                # "final" (upsampled to final_side inside the graph) | "native" (trained_side)

    @property
    def complete(self) -> bool:
        return self.trained_side == self.final_side and self.alpha >= 1.0

    def describe(self) -> str:
        fading = f", fading in (alpha {self.alpha:.2f})" if self.alpha < 1.0 else ""
        if self.trained_side == self.final_side:
            return f"trained at the final {self.final_side}x{self.final_side}{fading}"
        how = (f"upsampled (nearest, x{self.final_side // self.trained_side}) to the final {self.final_side}x{self.final_side}"
               if self.output == "final" else f"at {self.trained_side}x{self.trained_side} (native)")
        return f"trained to {self.trained_side}x{self.trained_side} of {self.final_side}x{self.final_side}{fading}; output {how}"


@dataclass
class GeneratorConfig:
    """``model.config`` of a latent-space generator bundle."""

    nz: int
    resolution: int
    channels: int = 3
    n_classes: int = 0
    classes: list[str] | None = None
    data: str | None = None
    generator: str = "g_ema"                 # which checkpoint module was exported
    latent: str = "z ~ N(0, I); seed s -> numpy default_rng(s).standard_normal(nz)"
    dissect_layers: list[DissectLayer] = field(default_factory=list)
    growth: Growth | None = None             # progressive GANs only


#: int8 calibration latents of a generator (no images needed)
GENERATOR_CALIBRATION_SAMPLES = 32


class GeneratorSpec(InterfaceSpec):
    """A GAN generator: latents (and labels) in, images out; ``generate`` endpoint; one fixed size."""

    name = "generator"
    config = GeneratorConfig
    legacy_family = "gan"
    commands = ("generate",)
    endpoint = "generate"
    main_role = "generate"
    triton_graphs = (TritonGraph("generate", None, "image"),)
    calibration_needs_images = False
    import_names = ("z", "image")
    main_input = "latent"
    #: convert's image limits per precision vs PyTorch fp32 on the golden cases (export/convert/profiles.py):
    #: (tolerance, the measurement it rests on)
    convert_limits = {
        "fp16": (Tolerance(max_abs=0.5, mean_abs=0.1, p99_abs=0.3, min_cosine=0.99999, min_psnr=65.0),
                 "fp16 vs PyTorch fp32: DCGAN (tiny) module in half precision max 0.064 mean 0.026 PSNR>=78.5, graph on "
                 "ORT CPU max 0.0008; limits 5-8x above"),
        "int8": (Tolerance(max_abs=8.0, mean_abs=1.0, p99_abs=4.0, min_cosine=0.9995, min_psnr=45.0),
                 "int8 vs PyTorch fp32: DCGAN (tiny) max 0.73 mean 0.10 p99 0.71 PSNR>=63.5; limits ~10x / 18 dB"),
    }

    def upgrade_v1(self, cfg, top):
        """Schema 1 kept the GAN method as ``gan_family`` in the config."""
        return cfg.pop("gan_family", None) or "generator", cfg

    def imported_config(self, *, in_dims, out_dims, layout, lo, hi, num_styles, names):
        """Latent size and image side from the shapes, both of which must be fixed."""
        nz = in_dims[1]
        if not isinstance(nz, int) or nz < 1:
            raise StyleForgeError(f"{names[0]}: the latent size must be fixed, got shape {in_dims}")
        side = out_dims[2] if layout == "NCHW" else out_dims[1]
        if not isinstance(side, int):
            raise StyleForgeError(f"{names[1]}: a generator's image size must be fixed, got shape {out_dims}")
        return GeneratorConfig(nz=nz, resolution=side, channels=3, generator="imported",
                               latent="z ~ N(0, I); seed s -> numpy default_rng(s).standard_normal(nz)")

    def info(self, model):
        """Its classes (conditional GANs)."""
        return {"n_classes": model.n_classes, "classes": list(model.config.classes or [])}

    def request_options(self, query, model, int_param):
        """``seed`` and, for a conditional GAN, ``label``."""
        payload = {"seed": int_param("seed", 0, 0, 2**32 - 1)}
        if model.n_classes:
            payload["label"] = int_param("label", 0, 0, model.n_classes - 1)
        return payload

    def batch_key(self, payload):
        """Any two requests share a run (latents of one size)."""
        return ("latent",)

    def run_batch(self, model, payloads, tiled=False):
        """One generator run for the batch's seeds (and labels)."""
        labels = [p["label"] for p in payloads] if model.n_classes else None
        return model.generate(model.latents([p["seed"] for p in payloads]), labels)

    def warm_up(self, model, image):
        """One latent."""
        self.run_batch(model, [{"seed": 0, "label": 0}])

    def bench_size(self, manifest, size):
        """Its trained resolution, whatever size is asked."""
        r = int(manifest.model.config.resolution)
        return (r, r)

    def bench_fixed_size(self):
        """One size only."""
        return True

    def bench_call(self, model, inputs):
        """``generate`` on the seed's latent."""
        z = model.latents([inputs["seed"]])
        return lambda: model.generate(z)[0]

    def calibration_feeds(self, bundle, graph, images, fixed, helper=None):
        """Latents from seeds 0.. (no images): one per sample, labels cycling through the classes."""
        nz = int(bundle.manifest.model.config.nz)
        n_classes = int(bundle.manifest.model.config.n_classes or 0)
        feeds = []
        for s in range(GENERATOR_CALIBRATION_SAMPLES):
            f = {"z": np.random.default_rng(s).standard_normal((1, nz)).astype(np.float32), **fixed}
            if graph.input("label") is not None:
                f["label"] = np.array([s % max(1, n_classes)], np.int64)
            if graph.input("unit_scale") is not None:
                f["unit_scale"] = np.ones(graph.input("unit_scale").shape[0], np.float32)
            feeds.append(f)
        return feeds


@register_interface(GeneratorSpec())
class GeneratorModel(RuntimeModel):
    @property
    def nz(self) -> int:
        return int(self.config.nz)

    @property
    def n_classes(self) -> int:
        return int(self.config.n_classes or 0)

    @property
    def dissect_layers(self) -> list[DissectLayer]:
        return list(self.config.dissect_layers)

    def latents(self, seeds) -> np.ndarray:
        return np.stack([np.random.default_rng(int(s)).standard_normal(self.nz) for s in seeds]).astype(np.float32)

    def sample_latents(self, n: int, seed: int = 0) -> np.ndarray:
        return np.random.default_rng(seed).standard_normal((n, self.nz)).astype(np.float32)

    def _labels(self, labels, n: int):
        if not self.n_classes:
            if labels is not None:
                raise StyleForgeError(f"{self.bundle.name}: unconditional generator; --label is only for conditional bundles")
            return None
        if labels is None:
            labels = np.arange(n) % self.n_classes
        arr = np.asarray(labels)
        if arr.ndim > 1 or not (np.issubdtype(arr.dtype, np.integer)
                                or (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)))):
            raise StyleForgeError(f"labels: expected one class index, or one per latent, got {labels!r:.60}")
        if arr.ndim == 1 and arr.size not in (1, n):
            raise StyleForgeError(f"labels: give one label or {n} (one per latent), got {arr.size}")
        labels = np.broadcast_to(arr.astype(np.int64).reshape(-1), (n,)).copy()
        bad = labels[(labels < 0) | (labels >= self.n_classes)]
        if bad.size:
            raise StyleForgeError(f"label {int(bad[0])} out of range: this generator has classes 0..{self.n_classes - 1}"
                                  f" ({', '.join(map(str, self.config.classes or []))})")
        return labels

    def _feeds(self, z, labels):
        z = np.asarray(z, np.float32)
        if z.ndim not in (1, 2) or z.shape[-1] != self.nz:
            raise StyleForgeError(f"latents: expected shape [N, {self.nz}] (nz = {self.nz}), got {list(z.shape)}")
        z = np.ascontiguousarray(z.reshape(-1, self.nz))
        feeds = {"z": z}
        if self.bundle.graph("generate").input("z").dtype == "float16":
            feeds["z"] = z.astype(np.float16)
        lab = self._labels(labels, len(z))
        if lab is not None:
            feeds["label"] = lab
        return feeds

    def _image_io(self, role: str = "generate"):
        """The ImageIO of a graph's ``image`` output (runtime/io_plan.py: its dtype, layout, range)."""
        cache = self.__dict__.setdefault("_io_cache", {})
        if role not in cache:
            cache[role] = image_io(self.bundle.graph(role).output("image"))
        return cache[role]

    def fixed_batch(self, role: str) -> int | None:
        """The batch a graph was exported with when it is not dynamic (``export --no-batch-dynamic``), else None."""
        spec = self.manifest.graph(role).input("z")
        d = spec.shape[0] if spec is not None and spec.shape else None
        return d if isinstance(d, int) and d > 0 else None

    def _chunks(self, feeds: dict, role: str, batch: int, extra: dict | None = None):
        """Run `role` over the batched `feeds` in chunks of `batch`; a graph of fixed batch gets exactly that
        batch (the last chunk padded with its final latent, the padding cropped from the outputs). Inputs the
        bundle holds fixed (import-onnx --const) are added to every run."""
        step = self.fixed_batch(role) or batch
        fixed = {**fixed_feeds(self.bundle, self.bundle.graph(role)), **(extra or {})}
        for i in range(0, len(feeds["z"]), step):
            part = {k: v[i:i + step] for k, v in feeds.items()}
            m = len(part["z"])
            if m < step and self.fixed_batch(role):
                part = {k: np.concatenate([v, np.repeat(v[-1:], step - m, 0)]) for k, v in part.items()}
            out = self.run({**part, **fixed}, role=role)
            yield {k: v[:m] for k, v in out.items()}

    def _generate_graph(self, z, labels, batch: int) -> np.ndarray:
        """The ``generate`` graph's raw image output (its own dtype and layout) for latents `z`."""
        outs = [o["image"] for o in self._chunks(self._feeds(z, labels), "generate", batch)]
        return outs[0] if len(outs) == 1 else np.concatenate(outs)

    def generate_raw(self, z, labels=None, batch: int = 64) -> np.ndarray:
        """float32 N×3×R×R in [0, 255]."""
        return self._image_io().to_float_nchw(self._generate_graph(z, labels, batch))

    def generate(self, z, labels=None) -> list[np.ndarray]:
        return list(self._image_io().decode(self._generate_graph(z, labels, 64)))

    def __call__(self, z, labels=None):
        return self.generate(z, labels)

    def layer(self, name: str) -> DissectLayer:
        for layer in self.dissect_layers:
            if layer.name == name:
                return layer
        names = ", ".join(l.name for l in self.dissect_layers) or "(none: exported without dissection graphs)"
        raise StyleForgeError(f"--layer {name!r}: not a dissectable layer of {self.bundle.name}; choose one of: {names}")

    def generate_dissect(self, z, layer: str, unit_scale=None, labels=None, batch: int = 64):
        """(images float32 N×3×R×R in [0, 255], activation N×C×S×S) with layer's channels scaled."""
        info = self.layer(layer)
        c = int(info.channels)
        try:
            scale = np.ones(c, np.float32) if unit_scale is None else np.asarray(unit_scale, np.float32)
        except (TypeError, ValueError):
            raise StyleForgeError(f"unit_scale: expected {c} numbers (one per channel of {layer})") from None
        if scale.ndim == 0:
            scale = np.full(c, float(scale), np.float32)
        if scale.shape != (c,):
            raise StyleForgeError(f"unit_scale: {layer} has {c} channels; got an array of shape {list(scale.shape)}")
        if not np.all(np.isfinite(scale)):
            raise StyleForgeError("unit_scale: values must be finite")
        feeds = self._feeds(z, labels)
        role = f"generate_dissect.{layer}"
        outs = list(self._chunks(feeds, role, batch, {"unit_scale": scale}))
        return (np.concatenate([self._image_io(role).to_float_nchw(o["image"]) for o in outs]),
                np.concatenate([o["activation"] for o in outs]))
