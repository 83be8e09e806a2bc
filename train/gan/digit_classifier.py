"""A small CNN on scikit-learn's digits (16×16, upsampled): the offline stand-in for Inception.

``train_classifier()`` trains it from scratch in a few seconds (deterministic for a seed) and
reports held-out accuracy; ``features()`` gives the 64-d penultimate layer used for the Fréchet
distance; ``preprocess()`` maps any generator output (N×3×R×R in [0, 255]) to its input.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SIDE = 16


class DigitClassifier(nn.Module):
    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Linear(32 * 16, 64)
        self.head = nn.Linear(64, n_classes)

    def features(self, x):
        return F.relu(self.fc(self.conv(x).flatten(1)))

    def forward(self, x):
        return self.head(self.features(x))


def preprocess(images: np.ndarray) -> torch.Tensor:
    """N×C×R×R float in [0, 255] (C = 1 or 3) → N×1×16×16 in [-1, 1]."""
    x = torch.from_numpy(np.asarray(images, np.float32)).mean(1, keepdim=True) / 127.5 - 1
    if x.shape[-1] != SIDE:
        x = F.interpolate(x, size=(SIDE, SIDE), mode="bilinear", align_corners=False, antialias=x.shape[-1] > SIDE)
    return x


def digits_uint8(side: int = SIDE) -> tuple[np.ndarray, np.ndarray]:
    """The digits as N×1×side×side float in [0, 255] (like a generator output) and labels."""
    from .data import digits

    x, y, _ = digits(side)
    return (x + 1) * 127.5, y


def train_classifier(seed: int = 0, steps: int = 300, batch: int = 64) -> tuple[DigitClassifier, float]:
    """Train on 1,500 digits, return (model in eval mode, accuracy on the other 297)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    x, y = digits_uint8()
    perm = np.random.default_rng(seed).permutation(len(x))
    tr, te = perm[:1500], perm[1500:]
    xt, yt = preprocess(x), torch.from_numpy(y)
    model = DigitClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(steps):
        idx = torch.from_numpy(tr)[torch.randint(0, len(tr), (batch,), generator=g)]
        xb = xt[idx]
        shift = torch.randint(-1, 2, (2,), generator=g)
        xb = torch.roll(xb, (int(shift[0]), int(shift[1])), (2, 3))  # ±1 px translation
        loss = F.cross_entropy(model(xb), yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = float((model(xt[te]).argmax(1) == yt[te]).float().mean())
    return model, acc


def save_classifier(model: DigitClassifier, path: str | Path) -> None:
    from safetensors.torch import save_file

    from ...runtime.atomic import atomic_path

    with atomic_path(Path(path)) as tmp:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))


def load_classifier(path: str | Path) -> DigitClassifier:
    from safetensors.torch import load_file

    from ...runtime.errors import StyleForgeError

    try:
        sd = load_file(str(path))
    except Exception as e:  # noqa: BLE001
        raise StyleForgeError(f"--classifier {path}: not a digits classifier file ({e})") from None
    m = DigitClassifier()
    m.load_state_dict(sd)
    return m.eval()


@torch.no_grad()
def features_and_logits(model: DigitClassifier, images: np.ndarray, batch: int = 500) -> tuple[np.ndarray, np.ndarray]:
    x = preprocess(images)
    feats, logits = [], []
    for i in range(0, len(x), batch):
        f = model.features(x[i:i + batch])
        feats.append(f.numpy())
        logits.append(model.head(f).numpy())
    return np.concatenate(feats), np.concatenate(logits)
