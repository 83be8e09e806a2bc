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
from ..model import RuntimeModel, register_interface


@dataclass
class DissectLayer:
    """A generator layer that has a ``generate_dissect.<name>`` graph (``unit_scale`` input)."""

    name: str
    channels: int
    side: int


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


@register_interface("generator", config=GeneratorConfig)
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
        labels = np.broadcast_to(np.asarray(labels, np.int64), (n,)).copy()
        bad = labels[(labels < 0) | (labels >= self.n_classes)]
        if bad.size:
            raise StyleForgeError(f"label {int(bad[0])} out of range: this generator has classes 0..{self.n_classes - 1}"
                                  f" ({', '.join(map(str, self.config.classes or []))})")
        return labels

    def _feeds(self, z, labels):
        z = np.ascontiguousarray(np.asarray(z, np.float32).reshape(-1, self.nz))
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

    def _generate_graph(self, z, labels, batch: int) -> np.ndarray:
        feeds = self._feeds(z, labels)
        fixed = fixed_feeds(self.bundle, self.bundle.graph("generate"))
        outs = []
        for i in range(0, len(feeds["z"]), batch):
            outs.append(self.run({**{k: v[i:i + batch] for k, v in feeds.items()}, **fixed}, role="generate")["image"])
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
        scale = np.ones(info.channels, np.float32) if unit_scale is None else np.asarray(unit_scale, np.float32)
        feeds = self._feeds(z, labels)
        imgs, acts = [], []
        for i in range(0, len(feeds["z"]), batch):
            role = f"generate_dissect.{layer}"
            out = self.run({**{k: v[i:i + batch] for k, v in feeds.items()}, "unit_scale": scale}, role=role)
            imgs.append(self._image_io(role).to_float_nchw(out["image"]))
            acts.append(out["activation"])
        return np.concatenate(imgs), np.concatenate(acts)
