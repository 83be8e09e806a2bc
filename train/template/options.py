"""Options of ``styleforge train template`` (torch-free: the command's flags are generated from this)."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.options import RunOptions, opt


@dataclass
class TemplateOptions(RunOptions):
    steps: int = opt(200, "optimiser steps")
    size: int = opt(64, "training crop size (a multiple of 4)")
    batch: int = opt(4, "crops per step")
    width: int = opt(8, "channels of the hidden layers")
    lr: float = opt(1e-3, "Adam learning rate")
    content_dir: str | None = opt(None, "folder of training images (default: the bundled photos)")
