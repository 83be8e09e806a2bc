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
from ..images import as_rgb_array, pad_to_multiple, to_hwc_uint8, to_nchw_float
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


@register_interface("translator", config=TranslatorConfig)
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

    def translate_raw(self, nchw: np.ndarray, *, reverse: bool = False) -> np.ndarray:
        """float32 N×3×H×W in [0, 255] → same shape; pads to the size multiple and crops back."""
        x = np.ascontiguousarray(np.asarray(nchw, np.float32))
        if x.ndim != 4 or x.shape[1] != 3:
            raise StyleForgeError(f"expected an N×3×H×W image batch, got shape {list(x.shape)}")
        m = self.size_multiple
        padded, (h, w) = pad_to_multiple(x, m)
        if min(padded.shape[-2:]) < m:  # tiny images: edge-pad up to one whole multiple
            ph, pw = max(0, m - padded.shape[-2]), max(0, m - padded.shape[-1])
            padded = np.pad(padded, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="edge")
        y = self.run({"image": np.ascontiguousarray(padded)}, role=self._role(reverse))["translated"]
        return np.ascontiguousarray(y[:, :, :h, :w])

    def translate(self, images, *, reverse: bool = False) -> list[np.ndarray]:
        """List of H×W×3 uint8 images (sizes may differ) → list of translated images, same sizes."""
        out = []
        for img in images:
            a = as_rgb_array(img)  # refuses sides under MIN_SIDE
            out.append(to_hwc_uint8(self.translate_raw(to_nchw_float([a]), reverse=reverse))[0])
        return out

    def __call__(self, image, *, reverse: bool = False) -> np.ndarray:
        return self.translate([image], reverse=reverse)[0]
