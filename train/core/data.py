"""Content images for training: a folder or the bundled photos, served as random crops with flips.

Batches are a pure function of (seed, step), so a resumed run sees exactly the batches the
uninterrupted run would have seen.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...runtime.errors import StyleForgeError
from ...runtime.images import list_images, load_image


class CropDataset:
    """Random size×size crops (with horizontal flips) from a list of RGB uint8 images."""

    def __init__(self, images: list[np.ndarray], size: int, seed: int = 0):
        if not images:
            raise StyleForgeError("no training images")
        self.size, self.seed = size, seed
        from PIL import Image

        self.images = []
        for img in images:
            h, w = img.shape[:2]
            scale = max(size / min(h, w), min(1.0, 1.5 * size / min(h, w)))
            if scale != 1.0:  # bring the short side near 1.5×size so crops show whole objects
                img = np.asarray(Image.fromarray(img).resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BILINEAR))
            self.images.append(img)

    @classmethod
    def from_source(cls, content_dir: str | Path | None, size: int, seed: int = 0, max_images: int | None = None):
        if content_dir is None:
            from .samples import content_photos

            return cls(content_photos(), size, seed)
        paths = list_images([content_dir])[:max_images]
        return cls([load_image(p) for p in paths], size, seed)

    def batch(self, step: int, batch_size: int, shard=None):
        """B×3×size×size float32 tensor in [0, 255] for this step. `shard` (a distributed World): only this rank's
        images of the global batch of `batch_size` (the random draws of the whole batch are made, so every rank's
        share is what one process would have drawn)."""
        import torch

        rng = np.random.default_rng([self.seed, step])
        own = set(shard.own(batch_size)) if shard is not None else set(range(batch_size))
        out = np.empty((len(own), self.size, self.size, 3), np.uint8)
        j = 0
        for i in range(batch_size):
            img = self.images[rng.integers(len(self.images))]
            h, w = img.shape[:2]
            y, x = rng.integers(0, h - self.size + 1), rng.integers(0, w - self.size + 1)
            flip = rng.random() < 0.5
            if i in own:
                crop = img[y:y + self.size, x:x + self.size]
                out[j] = crop[:, ::-1] if flip else crop
                j += 1
        return torch.from_numpy(out).permute(0, 3, 1, 2).float().contiguous()
