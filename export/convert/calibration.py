"""Calibration inputs for int8: the images given to ``convert --calibration`` (files, folders, ``sample:NAME``),
resized like the inputs they stand for, with the sha256 the lineage records, and turned into graph feeds per
runtime interface (stylizer / translator: the image; WCT: content with the statistics of another calibration
image as style, made by the parent's fp32 ``encode_style``; generator: latents from seeds, no images)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ...runtime.errors import StyleForgeError
from ...runtime.families.generator import GENERATOR_CALIBRATION_SAMPLES
from ...runtime.interfaces import interface_spec
from ...runtime.manifest import CalibrationImage

#: side of the square the calibration images are resized to (the size the int8 targets are measured at)
DEFAULT_SIZE = 512
#: latents per generator calibration (seeds 0..N-1; the generator interface's spec makes them)
GENERATOR_SAMPLES = GENERATOR_CALIBRATION_SAMPLES


def load_calibration(specs: list[str], size: int = DEFAULT_SIZE) -> tuple[list[np.ndarray], list[CalibrationImage]]:
    """(H×W×3 uint8 images resized to size×size, their lineage records) for files, folders and ``sample:NAME``."""
    from PIL import Image

    from ...runtime.images import list_images, load_image

    images, records = [], []
    for spec in specs:
        if str(spec).startswith("sample:"):
            from ...train.core.samples import resolve_image

            try:
                a = resolve_image(spec)
            except Exception as e:
                raise StyleForgeError(f"--calibration {spec}: {e}") from None
            items = [(spec, a, hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest())]
        else:
            items = []
            for p in list_images([spec]):
                items.append((str(p), load_image(p), hashlib.sha256(Path(p).read_bytes()).hexdigest()))
        for source, a, digest in items:
            images.append(np.asarray(Image.fromarray(a).resize((size, size), Image.Resampling.BILINEAR)))
            records.append(CalibrationImage(source=source, sha256=digest))
    return images, records


def _encode(bundle, role: str, name: str, img: np.ndarray) -> np.ndarray:
    from ...runtime.io_plan import image_io

    return image_io(bundle.graph(role).input(name)).encode(img[None])


def calibration_feeds(bundle, role: str, images: list[np.ndarray], stats_runner=None) -> list[dict]:
    """One feed dict per calibration sample for graph `role` of the (parent) bundle, in that graph's own input
    format. `stats_runner`: a runner of the parent's ``encode_style`` (WCT)."""
    from ...runtime.io_plan import fixed_feeds

    graph = bundle.graph(role)
    fixed = fixed_feeds(bundle, graph)
    spec = interface_spec(bundle.manifest.model.interface)
    if spec.calibration_needs_images and not images:
        raise StyleForgeError("int8 needs calibration images: --calibration IMAGE|FOLDER|sample:NAME (several)")
    own = spec.calibration_feeds(bundle, graph, images, fixed, stats_runner)  # the interface's own feeds, if any
    if own is not None:
        return own
    image_name = "image" if graph.input("image") is not None else graph.inputs[0].name
    feeds = []
    for img in images:
        f = {image_name: _encode(bundle, role, image_name, img), **fixed}
        if graph.input("style_index") is not None:
            f["style_index"] = np.zeros(1, np.int64)
        vec = next((t for t in graph.inputs if t.purpose == "style_vector"), None)
        if vec is not None:
            from ...runtime.io_plan import style_vector

            f[vec.name] = style_vector(vec, int(bundle.manifest.model.config.num_styles), index=0)
        feeds.append(f)
    if graph.input("style_index") is not None:  # every style seen in calibration
        k = int(bundle.manifest.model.config.num_styles)
        feeds = [{**f, "style_index": np.array([j % k], np.int64)} for j, f in enumerate(feeds * min(k, 4))]
    return feeds
