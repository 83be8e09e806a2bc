"""Options of ``styleforge train gan --method pix2pix|cyclegan`` (torch-free: the CLI is generated from
these dataclasses)."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.options import RunOptions, opt


@dataclass
class ImageToImageOptions(RunOptions):
    data: str | None = opt(None, "folder with A/ and B/ subfolders (paired by file name for pix2pix); "
                                 "default: the family's built-in set")
    resolution: int = opt(64, "training crop size in pixels")
    width_mult: float = opt(0.25, "channel width multiplier")
    lr: float = opt(2e-4, "Adam learning rate")
    n_layers: int = opt(3, "PatchGAN layers (3 = 70x70 patches)")


@dataclass
class Pix2PixOptions(ImageToImageOptions):
    steps: int = opt(5000, "generator steps (~4 min on an idle 2-core CPU at the defaults)")
    batch: int = opt(4, "batch size")
    lambda_l1: float = opt(100.0, "L1 weight")
    norm: str = opt("instance", "normalisation of both networks", choices=["instance", "batch", "none"])


@dataclass
class CycleGANOptions(ImageToImageOptions):
    steps: int = opt(2500, "generator steps")
    batch: int = opt(1, "batch size")
    n_blocks: int = opt(6, "ResNet blocks of the generators (6 or 9)")
    lambda_cycle: float = opt(10.0, "cycle loss weight")
    lambda_identity: float = opt(0.5, "identity loss weight (times lambda_cycle)")
    pool_size: int = opt(50, "image pool size")
    decay_start: int | None = opt(None, "step where the lr starts decaying linearly to 0 (default: steps/2)")
