"""Options of ``styleforge train wct-decoder`` (torch-free: the CLI is generated from this dataclass)."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.options import RunOptions, opt


@dataclass
class WCTDecoderOptions(RunOptions):
    level: int = opt(1, "encoder tap relu{L}_1 (1..5)", choices=[1, 2, 3, 4, 5], required=True)
    content_dir: str | None = opt(None, "folder of training photos (default: the bundled photos)")
    steps: int = opt(2000, "optimisation steps")
    size: int = opt(256, "crop size in pixels (a multiple of 2^(L-1))")
    batch_size: int = opt(4, "images per step")
    lr: float = opt(1e-3, "Adam learning rate")
    feature_weight: float = opt(1.0, "weight of the feature reconstruction loss")
    width_mult: float = opt(1.0, "decoder width multiplier (≤ 1; the encoder stays VGG19)")
    photo: bool = opt(False, "PhotoWCT: unpooling with the encoder's max-pool switches")
    vgg_weights: str | None = opt(None, "VGG19 weights: imagenet (torchvision's, from torch.hub's cache; downloaded "
                                        "once if missing), or a file (torchvision layout or safetensors); "
                                        "default: fixed-seed random weights, random(seed=0)")
    checkpoint_every: int | None = opt(200, "steps between checkpoints")
