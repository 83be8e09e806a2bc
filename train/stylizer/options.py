"""Options of ``styleforge train stylizer`` (torch-free: the CLI is generated from this dataclass).

Loss weights on our normalisation (VGG input in [0, 1], Gram / (C·H·W), mean-squared errors):
those of the PyTorch reference implementation of Johnson et al. (content 1e5, style 1e10);
total variation on the [0, 1] output as a light regulariser. Adam at 1e-3 (Johnson et al.).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..core.options import RunOptions, opt


@dataclass
class StylizerOptions(RunOptions):
    styles: list[str] = opt([], "style image (file or sample:NAME, e.g. sample:mosaic); repeat for several styles "
                                "(the k-th --style is style index k)", flag="--style", metavar="IMG", required=True)
    content_dir: str | None = opt(None, "folder of content images (default: the bundled sample photos)")
    steps: int = opt(2000, "optimiser steps in all")
    size: int = opt(256, "training crop size (a multiple of 4)")
    batch: int = opt(4, "images per step")
    content_weight: float = opt(1e5, "weight of the relu2_2 feature loss")
    style_weight: float = opt(1e10, "weight of the Gram (style) loss")
    tv_weight: float = opt(1e2, "weight of total variation on the [0,1] output")
    lr: float = opt(1e-3, "Adam learning rate")
    style_size: int | None = opt(None, "longer side of the style images (default: --size)")
    vgg_weights: str | None = opt(None, "VGG16 weights: imagenet (torchvision's, from torch.hub's cache; downloaded "
                                        "once if missing), or a file (torchvision .pth state dict or .safetensors); "
                                        "default: random(seed=0)", metavar="imagenet|PATH")
    width_mult: float = opt(1.0, "channel multiplier (0.125 for tests)")
    num_res_blocks: int = opt(5, "residual blocks of the transformer net")
    checkpoint_every: int | None = opt(200, "steps between checkpoints")
    max_content_images: int | None = opt(None, "use only the first N content images", cli=False)
