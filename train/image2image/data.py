"""Data for the image-to-image methods (pix2pix, CycleGAN): paired and unpaired crops.

Layouts read from ``--data DIR``:

- paired (pix2pix): ``DIR/A/`` and ``DIR/B/`` with matching file names (the stem decides, so
  ``A/x.jpg`` pairs with ``B/x.png``), or a folder of side-by-side ``AB`` images (left half A,
  right half B, as in the pix2pix datasets);
- unpaired (CycleGAN): ``DIR/A/`` and ``DIR/B/``, any names, any counts.

Without ``--data`` each family gets an embedded default built from bundled images (see
:func:`default_edges2photos` and :func:`default_textures`). Images are scaled so the short
side is ``load`` pixels (1.125 × the crop by default, like pix2pix's 286 → 256), then random
``size``×``size`` crops with horizontal flips are drawn; a pair is cropped and flipped together.
Batches are a pure function of (seed, step), so a resumed run sees exactly the batches the
uninterrupted run would have seen. Tensors are float32 N×3×H×W in [-1, 1].
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...runtime.errors import StyleForgeError
from ...runtime.images import IMAGE_SUFFIXES, load_image


def _resize_short(img: np.ndarray, short: int) -> np.ndarray:
    from PIL import Image

    h, w = img.shape[:2]
    if min(h, w) == short:
        return img
    s = short / min(h, w)
    size = (max(short, round(w * s)), max(short, round(h * s)))
    return np.asarray(Image.fromarray(img).resize(size, Image.Resampling.BICUBIC))


def _to_tensor(batch: np.ndarray):
    import torch

    return torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0).contiguous()


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _check_folder(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise StyleForgeError(f"{path}: no such data folder")
    if not path.is_dir():
        raise StyleForgeError(f"{path}: --data must be a folder")
    return path


class PairedDataset:
    """Aligned (A, B) crops from a list of image pairs of equal size."""

    def __init__(self, pairs: list[tuple[np.ndarray, np.ndarray]], size: int, seed: int = 0,
                 load: int | None = None, names: list[str] | None = None):
        if not pairs:
            raise StyleForgeError("no training pairs")
        self.size, self.seed = size, seed
        load = max(size, load or round(size * 1.125))
        self.pairs = []
        for k, (a, b) in enumerate(pairs):
            if a.shape[:2] != b.shape[:2]:  # paired images of different sizes: bring B onto A's grid
                from PIL import Image

                b = np.asarray(Image.fromarray(b).resize((a.shape[1], a.shape[0]), Image.Resampling.BICUBIC))
            self.pairs.append((_resize_short(a, load), _resize_short(b, load)))
        self.names = names or [f"pair{k}" for k in range(len(pairs))]

    @classmethod
    def from_folder(cls, path: str | Path, size: int, seed: int = 0, load: int | None = None) -> "PairedDataset":
        path = _check_folder(path)
        a_dir, b_dir = path / "A", path / "B"
        if a_dir.is_dir() or b_dir.is_dir():
            if not (a_dir.is_dir() and b_dir.is_dir()):
                raise StyleForgeError(f"{path}: paired data needs both A/ and B/ subfolders (found only {'A' if a_dir.is_dir() else 'B'}/)")
            a_files = {p.stem: p for p in _images_in(a_dir)}
            b_files = {p.stem: p for p in _images_in(b_dir)}
            if not a_files or not b_files:
                raise StyleForgeError(f"{a_dir if not a_files else b_dir}: folder holds no images")
            common = sorted(set(a_files) & set(b_files))
            if not common:
                raise StyleForgeError(f"{path}: no file name in A/ matches one in B/ (paired data needs matching names, e.g. A/1.png and B/1.png)")
            lonely = sorted(set(a_files) ^ set(b_files))
            if lonely:
                raise StyleForgeError(f"{path}: {len(lonely)} image(s) have no partner with the same name in the other folder (e.g. {lonely[0]!r})")
            pairs = [(load_image(a_files[n]), load_image(b_files[n])) for n in common]
            return cls(pairs, size, seed, load, names=common)
        files = _images_in(path)
        if not files:
            raise StyleForgeError(f"{path}: holds neither A/ and B/ subfolders nor side-by-side AB images")
        pairs = []
        for f in files:
            ab = load_image(f)
            h, w = ab.shape[:2]
            if w < 2 * 8 or w < h:
                raise StyleForgeError(f"{f}: side-by-side AB image is {w}x{h}; expected A and B next to each other (width ≈ 2 × height)")
            half = w // 2
            pairs.append((ab[:, :half], ab[:, half:2 * half]))
        return cls(pairs, size, seed, load, names=[f.stem for f in files])

    def batch(self, step: int, batch_size: int, shard=None):
        """(A, B): two B×3×size×size float32 tensors in [-1, 1] for this step, aligned; with `shard` (a distributed
        World) this rank's part of the global batch of `batch_size`."""
        rng = np.random.default_rng([self.seed, step])
        s = self.size
        own = set(shard.own(batch_size)) if shard is not None else set(range(batch_size))
        a_out = np.empty((len(own), s, s, 3), np.uint8)
        b_out = np.empty_like(a_out)
        j = 0
        for i in range(batch_size):
            a, b = self.pairs[rng.integers(len(self.pairs))]
            h, w = a.shape[:2]
            y, x = rng.integers(0, h - s + 1), rng.integers(0, w - s + 1)
            flip = rng.random() < 0.5
            if i in own:
                ca, cb = a[y:y + s, x:x + s], b[y:y + s, x:x + s]
                a_out[j], b_out[j] = (ca[:, ::-1], cb[:, ::-1]) if flip else (ca, cb)
                j += 1
        return _to_tensor(a_out), _to_tensor(b_out)


class CropSampler:
    """Random size×size crops with flips from one list of images (one CycleGAN domain)."""

    def __init__(self, images: list[np.ndarray], size: int, seed: int = 0, load: int | None = None, stream: int = 0):
        if not images:
            raise StyleForgeError("no training images")
        load = max(size, load or round(size * 1.125))
        self.images = [_resize_short(i, load) for i in images]
        self.size, self.seed, self.stream = size, seed, stream

    def batch(self, step: int, batch_size: int, shard=None):
        rng = np.random.default_rng([self.seed, step, self.stream])
        s = self.size
        own = set(shard.own(batch_size)) if shard is not None else set(range(batch_size))
        out = np.empty((len(own), s, s, 3), np.uint8)
        j = 0
        for i in range(batch_size):
            img = self.images[rng.integers(len(self.images))]
            h, w = img.shape[:2]
            y, x = rng.integers(0, h - s + 1), rng.integers(0, w - s + 1)
            flip = rng.random() < 0.5
            if i in own:
                c = img[y:y + s, x:x + s]
                out[j] = c[:, ::-1] if flip else c
                j += 1
        return _to_tensor(out)


class UnpairedDataset:
    """Two independent domains A and B; each batch draws from both with separate random streams."""

    def __init__(self, images_a: list[np.ndarray], images_b: list[np.ndarray], size: int, seed: int = 0,
                 load: int | None = None):
        self.a = CropSampler(images_a, size, seed, load, stream=0)
        self.b = CropSampler(images_b, size, seed, load, stream=1)
        self.size = size

    @classmethod
    def from_folder(cls, path: str | Path, size: int, seed: int = 0, load: int | None = None) -> "UnpairedDataset":
        path = _check_folder(path)
        a_dir, b_dir = path / "A", path / "B"
        missing = [d.name + "/" for d in (a_dir, b_dir) if not d.is_dir()]
        if missing:
            raise StyleForgeError(f"{path}: unpaired data needs two subfolders A/ and B/ (missing {' and '.join(missing)})")
        imgs = []
        for d in (a_dir, b_dir):
            files = _images_in(d)
            if not files:
                raise StyleForgeError(f"{d}: folder holds no images")
            imgs.append([load_image(f) for f in files])
        return cls(imgs[0], imgs[1], size, seed, load)

    def batch(self, step: int, batch_size: int, shard=None):
        return self.a.batch(step, batch_size, shard), self.b.batch(step, batch_size, shard)


# --- embedded defaults -------------------------------------------------------------------------

def edge_map(img: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """Canny edges of an RGB image as black lines on white, H×W×3 uint8 (pix2pix's edges→photo input)."""
    from skimage.color import rgb2gray
    from skimage.feature import canny

    edges = canny(rgb2gray(img), sigma=sigma)
    out = np.where(edges, 0, 255).astype(np.uint8)
    return np.repeat(out[:, :, None], 3, axis=2)


def center_crop(img: np.ndarray, side: int) -> np.ndarray:
    """The central side×side window of an image whose sides are at least `side`."""
    h, w = img.shape[:2]
    y, x = (h - side) // 2, (w - side) // 2
    return np.ascontiguousarray(img[y:y + side, x:x + side])


def _center_square(img: np.ndarray, side: int) -> np.ndarray:
    img = _resize_short(img, side)
    h, w = img.shape[:2]
    y, x = (h - side) // 2, (w - side) // 2
    return np.ascontiguousarray(img[y:y + side, x:x + side])


def default_edges2photos(size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Edge-map → photo pairs from the bundled photographs, each scaled to a short side of 2×size.

    Edges are computed at that scale (Canny, σ = 2) so they match what the crops show.
    """
    from ..core.samples import PHOTOS, sample_image

    pairs = []
    for name in PHOTOS:
        photo = _resize_short(sample_image(name), 2 * size)
        pairs.append((edge_map(photo), photo))
    return pairs


def default_edges2photos_preview(size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Whole (centre-square) photos at 2×size and their edge maps, for previews and the gallery."""
    from ..core.samples import PHOTOS, sample_image

    out = []
    for name in PHOTOS:
        photo = _center_square(sample_image(name), 2 * size)
        out.append((edge_map(photo), photo))
    return out


#: The default unpaired domains for CycleGAN: scikit-image's grass (A) and gravel (B) textures.
DEFAULT_DOMAINS = ("grass", "gravel")


def default_textures(size: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Domain A = grass, domain B = gravel (scikit-image textures, 512², grey), scaled to 3×size."""
    from ..core.samples import sample_image

    a, b = (_resize_short(sample_image(n), 3 * size) for n in DEFAULT_DOMAINS)
    return [a], [b]
