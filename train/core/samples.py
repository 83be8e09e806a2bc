"""Bundled sample images: scikit-image's photographs and textures, plus generated textures.

Nothing is downloaded. CLI image arguments accept ``sample:NAME`` (see :func:`resolve_image`);
``styleforge samples --out DIR`` writes them all as PNG files.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ...runtime.errors import StyleForgeError
from ...runtime.images import as_rgb_array, load_image, save_image

#: Photographs shipped with scikit-image (content images).
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
#: Textures: scikit-image's (grayscale ones stay grayscale) and generated ones.
TEXTURES = ("mosaic", "waves", "hubble", "brick", "grass", "gravel")
_SKIMAGE = {"astronaut": "astronaut", "coffee": "coffee", "chelsea": "chelsea", "rocket": "rocket",
            "hubble": "hubble_deep_field", "brick": "brick", "grass": "grass", "gravel": "gravel",
            "ihc": "immunohistochemistry"}


def mosaic(size: int = 256, cells: int = 48, seed: int = 0) -> np.ndarray:
    """A stained-glass texture: Voronoi cells in saturated colours with dark leading."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, size, (cells, 2))
    palette = np.array([[230, 57, 70], [241, 196, 15], [29, 53, 87], [69, 123, 157], [42, 157, 143],
                        [233, 196, 106], [244, 162, 97], [155, 89, 182]], np.float64)
    colours = palette[rng.integers(0, len(palette), cells)]
    yy, xx = np.mgrid[0:size, 0:size]
    d = (yy[..., None] - pts[:, 0]) ** 2 + (xx[..., None] - pts[:, 1]) ** 2
    order = np.argsort(d, axis=-1)
    d1 = np.take_along_axis(d, order[..., :1], -1)[..., 0]
    d2 = np.take_along_axis(d, order[..., 1:2], -1)[..., 0]
    img = colours[order[..., 0]]
    edge = (np.sqrt(d2) - np.sqrt(d1)) < 2.0
    img[edge] = 20
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def waves(size: int = 256, seed: int = 1) -> np.ndarray:
    """Swirling colour bands (a 'Starry Night'-like stand-in): sums of warped sinusoids."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size * 2 * np.pi
    warp = sum(np.sin(a * xx + b * yy + c) for a, b, c in rng.uniform(0.5, 3, (4, 3)))
    base = np.stack([np.sin(3 * xx + 2 * warp + p) for p in (0.0, 2.1, 4.2)], -1)
    img = 0.5 + 0.5 * base
    img = img * np.array([0.35, 0.55, 1.0]) + np.array([0.05, 0.1, 0.2])
    return np.clip(img * 255, 0, 255).astype(np.uint8)


_GENERATED = {"mosaic": mosaic, "waves": waves}


@lru_cache(maxsize=None)
def _sample(name: str) -> np.ndarray:
    if name in _GENERATED:
        return _GENERATED[name]()
    import skimage.data

    a = getattr(skimage.data, _SKIMAGE[name])()
    return as_rgb_array(a)


def sample_names() -> list[str]:
    return sorted(set(PHOTOS) | set(TEXTURES) | set(_SKIMAGE))


def sample_image(name: str) -> np.ndarray:
    """A bundled image by name as H×W×3 uint8 (a copy)."""
    if name not in _GENERATED and name not in _SKIMAGE:
        raise StyleForgeError(f"unknown sample image {name!r}; choose one of: {', '.join(sample_names())}")
    return _sample(name).copy()


def resolve_image(spec: str | Path, *, max_side: int | None = None) -> np.ndarray:
    """``sample:NAME`` → a bundled image; anything else → an image file (clear errors either way)."""
    s = str(spec)
    if s.startswith("sample:"):
        img = sample_image(s[len("sample:"):])
        if max_side and max(img.shape[:2]) > max_side:
            from PIL import Image

            scale = max_side / max(img.shape[:2])
            img = np.asarray(Image.fromarray(img).resize((round(img.shape[1] * scale), round(img.shape[0] * scale)), Image.Resampling.LANCZOS))
        return img
    return load_image(spec, max_side=max_side)


def content_photos() -> list[np.ndarray]:
    return [sample_image(n) for n in PHOTOS]


def write_samples(out_dir: str | Path) -> list[Path]:
    out = []
    for name in sample_names():
        out.append(save_image(Path(out_dir) / f"{name}.png", sample_image(name)))
    return out
