"""The template interface: the smallest complete runtime interface, to copy when adding one (docs/template.md).

One graph (role ``transform``) maps an image to one of the same size: input ``image``, output ``transformed``,
whatever layout, dtype and value range the manifest's annotations give (runtime/io_plan.py converts). This module
is all a new interface needs: a config dataclass, a RuntimeModel subclass with the image handling, and the spec
beside it that tells serve, ``bench`` and ``convert`` how to use it (runtime/interfaces.py). Nothing else is
edited: ``load``, ``POST /v1/models/NAME/transform``, ``styleforge bench`` and ``convert`` find it by the package
scan of runtime/families/.

    model = load("x.sfbundle")        # a bundle whose model.interface is "template"
    out = model(image)                # H×W×3 uint8 in, same size out
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..images import as_rgb_array
from ..interfaces import InterfaceSpec, register_interface
from ..io_plan import fixed_feeds, image_io, pad_batch
from ..model import RuntimeModel

ROLE = "transform"


@dataclass
class TemplateConfig:
    """``model.config`` of a template bundle: what made its graph (for the record)."""

    made_by: str = ""


class TemplateSpec(InterfaceSpec):
    """Image in, image out, one graph; served at ``/v1/models/NAME/transform``, batched by image size."""

    name = "template"
    config = TemplateConfig
    endpoint = "transform"
    main_role = ROLE

    def run_batch(self, model, payloads, tiled=False):
        """One graph run for same-size images (the batch key is the size)."""
        return model.transform_batch([p["image"] for p in payloads])

    def warm_up(self, model, image):
        """One image."""
        model(image)

    def bench_call(self, model, inputs):
        """``model(image)``."""
        img = inputs["image"]
        return lambda: model(img)


@register_interface(TemplateSpec())
class TemplateModel(RuntimeModel):
    """Runs the ``transform`` graph on H×W×3 uint8 images: pads to the bundle's size multiple, crops back."""

    def transform_batch(self, images) -> list[np.ndarray]:
        """Same-size H×W×3 images → their outputs, in one graph run."""
        batch = np.stack([as_rgb_array(i) for i in images])
        graph = self.bundle.graph(ROLE)
        io_in, io_out = image_io(graph.input("image")), image_io(graph.output("transformed"))
        padded, crop = pad_batch(batch, self.size_multiple, int(self.manifest.size_constraints.min_side))
        out = self.run({"image": io_in.encode(padded), **fixed_feeds(self.bundle, graph)}, role=ROLE)["transformed"]
        return list(io_out.decode(out, crop))

    def __call__(self, image) -> np.ndarray:
        return self.transform_batch([image])[0]
