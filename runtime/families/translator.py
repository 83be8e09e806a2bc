"""Runtime for image-to-image bundles (pix2pix, CycleGAN); numpy + ORT only.

    from styleforge.runtime import load
    t = load("edges2photos.sfbundle")
    photo = t(edges)                    # H×W×3 uint8 in (any size), H×W×3 uint8 out (same size)
    back = t(photo, reverse=True)       # CycleGAN bundles: the B → A generator

Any H and W are accepted: the image is reflect-padded up to the bundle's size multiple
(``size_constraints.multiple_of``: 2**depth for a U-Net, 4 for a ResNet generator), translated,
and cropped back to its own size.
"""
from __future__ import annotations

import numpy as np

from dataclasses import dataclass, field
from typing import Any

from ..errors import StyleForgeError
from ..images import as_rgb_array
from ..io_plan import fixed_feeds, image_io, pad_batch
from ..manifest import Tolerance
from ..interfaces import InterfaceSpec, TritonGraph
from ..model import RuntimeModel, register_interface


@dataclass
class TranslatorConfig:
    """``model.config`` of an image-to-image bundle."""

    directions: dict[str, str] = field(default_factory=lambda: {"translate": "A->B"})  # role -> direction
    generator: str = ""                      # registered model name of the generator
    generator_config: dict[str, Any] = field(default_factory=dict)
    resolution: int | None = None            # training crop size
    data: Any = None                         # what it was trained on
    value_range: str = "graph I/O in [0, 255]"
    dropout_at_inference: str = "none"
    norm: str = ""


class TranslatorSpec(InterfaceSpec):
    """An image-to-image translator (pix2pix, CycleGAN): ``translate`` endpoint, optional reverse graph."""

    name = "translator"
    config = TranslatorConfig
    legacy_family = "image2image"
    commands = ("translate",)
    endpoint = "translate"
    main_role = "translate"
    tiled_roles = ("translate", "translate_reverse")
    triton_graphs = (TritonGraph("translate", "image", "translated"),
                     TritonGraph("translate_reverse", "image", "translated", "_reverse"))
    import_names = ("image", "translated")
    #: convert's image limits per precision vs PyTorch fp32 on the golden cases (export/convert/profiles.py):
    #: (tolerance, the measurement it rests on)
    convert_limits = {
        "fp16": (Tolerance(max_abs=2.0, mean_abs=0.2, p99_abs=1.0, min_cosine=0.99999, min_psnr=60.0),
                 "fp16 vs PyTorch fp32: pix2pix (tiny) module in half precision max 0.18 mean 0.033 p99 0.118 PSNR>=75.5, "
                 "graph on ORT CPU max 0.056; limits ~10x above (CycleGAN's norms not measured separately)"),
        "int8": (Tolerance(max_abs=32.0, mean_abs=2.5, p99_abs=12.0, min_cosine=0.9995, min_psnr=36.0),
                 "int8 vs PyTorch fp32: pix2pix (tiny) max 6.97 mean 0.93 p99 3.79 PSNR>=46.2; limits 2.5-4x / 10 dB"),
    }

    def upgrade_v1(self, cfg, top):
        """Schema 1 kept the method in the config."""
        return cfg.pop("method", None) or "translator", cfg

    def role(self, manifest, reverse=False):
        """``translate_reverse`` for the backward direction."""
        return "translate_reverse" if reverse else "translate"

    def imported_config(self, *, in_dims, out_dims, layout, lo, hi, num_styles, names):
        """One direction, its value range recorded."""
        return TranslatorConfig(generator="imported", value_range=f"graph I/O in [{lo:g}, {hi:g}]")

    def info(self, model):
        """Whether it translates both ways."""
        return {"reversible": model.reversible}

    def tile_role(self, payload):
        """Large images run their direction's graph in tiles."""
        return "translate_reverse" if payload.get("reverse") else "translate"

    def run_batch(self, model, payloads, tiled=False):
        """One graph run for the batch (same size and direction: the batch key)."""
        from ..images import to_hwc_uint8, to_nchw_float

        reverse = payloads[0].get("reverse", False)
        if tiled:
            return [model.translate_tiled(payloads[0]["image"], reverse=reverse)]
        return to_hwc_uint8(model.translate_raw(to_nchw_float([p["image"] for p in payloads]), reverse=reverse))

    def warm_up(self, model, image):
        """Each direction once."""
        model.translate([image])
        if model.reversible:
            model.translate([image], reverse=True)

    def bench_call(self, model, inputs):
        """``model(image)``."""
        img = inputs["image"]
        return lambda: model(img)


@register_interface(TranslatorSpec())
class TranslatorModel(RuntimeModel):
    @property
    def roles(self) -> list[str]:
        return self.manifest.roles

    @property
    def reversible(self) -> bool:
        return "translate_reverse" in self.roles

    def _role(self, reverse: bool) -> str:
        if not reverse:
            return "translate"
        if not self.reversible:
            raise StyleForgeError(f"{self.bundle.name}: this {self.manifest.model.method} bundle translates "
                                  "one way only (A→B); --reverse needs a CycleGAN bundle")
        return "translate_reverse"

    def _io(self, role: str):
        """(input ImageIO, output ImageIO) of a graph (runtime/io_plan.py)."""
        cache = self.__dict__.setdefault("_io_cache", {})
        if role not in cache:
            g = self.bundle.graph(role)
            cache[role] = (image_io(g.input("image")), image_io(g.output("translated")))
        return cache[role]

    def _translate_u8(self, batch: np.ndarray, reverse: bool) -> np.ndarray:
        """N×H×W×3 uint8 → the graph's raw output for it (padded to the size multiple), and (H, W) to crop to."""
        role = self._role(reverse)
        io_in, _ = self._io(role)
        padded, crop = pad_batch(batch, self.size_multiple, self.size_multiple)
        feeds = {"image": io_in.encode(padded), **fixed_feeds(self.bundle, self.bundle.graph(role))}
        return self.run(feeds, role=role)["translated"], crop

    def translate_raw(self, nchw: np.ndarray, *, reverse: bool = False) -> np.ndarray:
        """float32 N×3×H×W in [0, 255] → same shape; pads to the size multiple and crops back."""
        x = np.ascontiguousarray(np.asarray(nchw, np.float32))
        if x.ndim != 4 or x.shape[1] != 3:
            raise StyleForgeError(f"expected an N×3×H×W image batch, got shape {list(x.shape)}")
        role = self._role(reverse)
        io_in, io_out = self._io(role)
        if io_in.is_uint8 or io_in.layout != "NCHW" or io_in.lo or io_in.hi != 255.0 or io_out.is_uint8 \
                or io_out.layout != "NCHW" or io_out.lo or io_out.hi != 255.0:
            # a graph with its own I/O convention: through the uint8 path (rounds the input to grey levels)
            batch = np.clip(np.rint(x), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
            y, (h, w) = self._translate_u8(batch, reverse)
            return io_out.to_float_nchw(y)[:, :, :h, :w].copy()
        m = self.size_multiple
        padded, (h, w) = pad_batch(x.transpose(0, 2, 3, 1), m, m)
        feeds = {"image": np.ascontiguousarray(padded.transpose(0, 3, 1, 2)), **fixed_feeds(self.bundle, self.bundle.graph(role))}
        y = self.run(feeds, role=role)["translated"]
        return np.ascontiguousarray(y[:, :, :h, :w])

    def translate(self, images, *, reverse: bool = False) -> list[np.ndarray]:
        """List of H×W×3 uint8 images (sizes may differ) → list of translated images, same sizes."""
        out = []
        _, io_out = self._io(self._role(reverse))
        for img in images:
            a = as_rgb_array(img)  # refuses sides under MIN_SIDE
            y, crop = self._translate_u8(a[None], reverse)
            out.append(io_out.decode(y, crop)[0])
        return out

    def translate_tiled(self, image, *, reverse: bool = False, **tiling) -> np.ndarray:
        """Translate an image of any size in tiles with flat memory (runtime/tiling.py)."""
        return self.tiled(self._role(reverse), **tiling)(as_rgb_array(image))

    def __call__(self, image, *, reverse: bool = False) -> np.ndarray:
        return self.translate([image], reverse=reverse)[0]
