"""Image sets for the GAN trainers, held in memory as float32 N×C×R×R in [-1, 1] (+ int64 labels).

Sources (``--data``):

* ``builtin:digits`` (the default): scikit-learn's 1,797 labelled 8×8 digits, bilinearly
  upsampled to the resolution, 1 channel, 10 classes;
* ``builtin:lfw``: scikit-image's ``lfw_subset`` (200 grayscale 25×25 faces; label 0 = face);
* a folder of images (unconditional; RGB), or a folder with one subfolder per class
  (labels in sorted subfolder order; the class names are kept).

Batches are a pure function of (seed, step, k), so a resumed run sees the same batches.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...runtime.errors import StyleForgeError
from ...runtime.images import IMAGE_SUFFIXES, load_image

BUILTINS = ("builtin:digits", "builtin:lfw")


def _resize_stack(arr: np.ndarray, res: int) -> np.ndarray:
    """float N×C×h×w → N×C×res×res (bilinear, antialiased when shrinking)."""
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    if t.shape[-1] != res or t.shape[-2] != res:
        t = F.interpolate(t, size=(res, res), mode="bilinear", align_corners=False, antialias=t.shape[-1] > res)
    return t.clamp(-1, 1).numpy()


def digits(res: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.images.astype(np.float32)[:, None] / 16.0 * 2 - 1
    return _resize_stack(x, res), d.target.astype(np.int64), [str(i) for i in range(10)]


def lfw(res: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from skimage.data import lfw_subset

    x = lfw_subset().astype(np.float32)[:, None] * 2 - 1  # (200, 25, 25) in [0, 1]
    return _resize_stack(x, res), np.zeros(len(x), np.int64), ["face"]


def _square(img: np.ndarray, res: int) -> np.ndarray:
    from PIL import Image

    h, w = img.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    im = Image.fromarray(img[y:y + s, x:x + s]).resize((res, res), Image.Resampling.BICUBIC if s < res else Image.Resampling.LANCZOS)
    return np.asarray(im)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def folder(path: str | Path, res: int, channels: int = 3) -> tuple[np.ndarray, np.ndarray, list[str]]:
    path = Path(path)
    if not path.is_dir():
        raise StyleForgeError(f"--data {path}: no such folder (or use {' / '.join(BUILTINS)})")
    subdirs = sorted(p for p in path.iterdir() if p.is_dir() and _files(p))
    if _files(path) or not subdirs:
        groups, names = [_files(path)], ["all"]
    else:
        groups, names = [_files(p) for p in subdirs], [p.name for p in subdirs]
    imgs, labels = [], []
    for k, files in enumerate(groups):
        for f in files:
            a = _square(load_image(f), res).astype(np.float32) / 127.5 - 1
            imgs.append(a.mean(axis=2, keepdims=True) if channels == 1 else a)
            labels.append(k)
    if not imgs:
        raise StyleForgeError(f"--data {path}: folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return np.stack(imgs).transpose(0, 3, 1, 2).copy(), np.asarray(labels, np.int64), names


class GANData:
    """In-memory images + labels with deterministic batches."""

    def __init__(self, source: str | None, res: int, channels: int | None = None, seed: int = 0):
        source = source or "builtin:digits"
        self.source, self.seed = source, seed
        if source == "builtin:digits":
            self.x, self.y, self.classes = digits(res)
        elif source == "builtin:lfw":
            self.x, self.y, self.classes = lfw(res)
        elif source.startswith("builtin:"):
            raise StyleForgeError(f"--data {source}: unknown built-in set; choose {', '.join(BUILTINS)} or a folder")
        else:
            self.x, self.y, self.classes = folder(source, res, channels or 3)
        if channels and channels != self.x.shape[1]:
            self.x = np.repeat(self.x, channels, 1) if self.x.shape[1] == 1 else self.x.mean(1, keepdims=True)
        self.channels = int(self.x.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.x)

    def batch(self, step: int, batch: int, k: int = 0, shard=None):
        """(images, labels) as torch tensors: batch `k` of `step` (k counts critic iterations); with `shard` (a
        distributed World) this rank's part of that global batch."""
        import torch

        rng = np.random.default_rng([self.seed, step, k])
        idx = rng.integers(0, len(self.x), batch)
        if shard is not None:
            idx = shard.shard(idx)
        return torch.from_numpy(self.x[idx]), torch.from_numpy(self.y[idx])
