"""VGG16/VGG19 feature extractors defined here (no torchvision needed), for loss networks and WCT encoders.

Layer names follow the papers (``relu1_1``, ``relu2_2`` …); parameter names follow
torchvision's ``features.N.weight`` so a torchvision state-dict file loads as is. ``weights`` is a
file, or ``imagenet``: torchvision's published ImageNet weights, found in (or fetched into) torch.hub's
cache and hash-checked (train/core/weights.py). Without weights the network gets fixed-seed random
weights, and :attr:`VGG.description` says so (``random(seed=0)``) so every output can record which
loss network made it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...runtime.errors import StyleForgeError

#: Channel plan per architecture; "M" is a 2×2 max-pool.
CFGS = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RANDOM_SEED = 0


def layer_names(arch: str) -> list[str]:
    """Names of the modules of ``features`` in order: conv1_1, relu1_1, …, pool1, …"""
    names, block, idx = [], 1, 1
    for v in CFGS[arch]:
        if v == "M":
            names.append(f"pool{block}")
            block, idx = block + 1, 1
        else:
            names += [f"conv{block}_{idx}", f"relu{block}_{idx}"]
            idx += 1
    return names


def make_features(arch: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    cin = 3
    for v in CFGS[arch]:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=False)]
            cin = v
    return nn.Sequential(*layers)


def random_init_(features: nn.Sequential, seed: int = RANDOM_SEED) -> None:
    """Deterministic He-normal init: the same 'random VGG' on every machine and every run."""
    g = torch.Generator().manual_seed(seed)
    for m in features:
        if isinstance(m, nn.Conv2d):
            fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                m.bias.zero_()


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a torchvision-layout ``.pth`` (weights only, never unpickling code) or a ``.safetensors`` file."""
    path = Path(path)
    if not path.is_file():
        raise StyleForgeError(f"--vgg-weights {path}: no such file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        sd = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:
        raise StyleForgeError(f"--vgg-weights {path}: cannot read weights ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise StyleForgeError(f"--vgg-weights {path}: expected a state dict, found {type(sd).__name__}")
    return sd


def _warn_random(arch: str) -> None:
    print(f"styleforge: warning: no --vgg-weights given; the {arch} loss network has fixed-seed random weights "
          f"(random(seed={RANDOM_SEED})). Results differ from an ImageNet-trained VGG: pass --vgg-weights imagenet "
          "(torchvision's weights, downloaded once into ~/.cache/torch/hub/checkpoints) or a weights file.",
          file=sys.stderr)


_WARNED: set[str] = set()


class VGG(nn.Module):
    """VGG feature extractor returning the activations at named layers.

    Input: RGB in [0, 1], N×3×H×W; ImageNet normalisation happens inside. The network is cut
    after the deepest requested layer, frozen, and kept in eval mode.
    """

    def __init__(self, arch: str = "vgg16", layers: list[str] | tuple[str, ...] = ("relu2_2",),
                 weights: str | Path | None = None, pool: str = "max", warn: bool = True):
        super().__init__()
        if arch not in CFGS:
            raise StyleForgeError(f"unknown VGG architecture {arch!r}; choose vgg16 or vgg19")
        names = layer_names(arch)
        bad = [l for l in layers if l not in names]
        if bad:
            raise StyleForgeError(f"{arch} has no layer(s) {', '.join(bad)}; valid: {', '.join(n for n in names if n.startswith('relu'))}")
        self.arch, self.layers = arch, list(layers)
        features = make_features(arch)
        from .weights import describe, resolve_weights

        spec, weights = weights, resolve_weights(weights, arch, option="--vgg-weights")
        if weights is None:
            random_init_(features)
            self.description = f"random(seed={RANDOM_SEED})"
            if warn and arch not in _WARNED:
                _WARNED.add(arch)
                _warn_random(arch)
        else:
            sd = load_state_dict_file(weights)
            sd = {k[len("features."):] if k.startswith("features.") else k: v for k, v in sd.items()}
            sd = {k: v for k, v in sd.items() if k.split(".")[0].isdigit()}
            missing = features.load_state_dict(sd, strict=False)
            if missing.missing_keys:
                raise StyleForgeError(f"--vgg-weights {weights}: not a {arch} state dict (missing {', '.join(missing.missing_keys[:4])}…)")
            self.description = describe(spec, Path(weights))
        if pool == "avg":
            features = nn.Sequential(*[nn.AvgPool2d(2, 2) if isinstance(m, nn.MaxPool2d) else m for m in features])
        last = max(names.index(l) for l in self.layers)
        self.features = features[: last + 1]
        self.names = names[: last + 1]
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):  # a loss network never leaves eval mode
        return super().train(False)

    def forward(self, x: torch.Tensor, layers: list[str] | None = None) -> dict[str, torch.Tensor]:
        want = set(layers or self.layers)
        out = {}
        h = (x - self.mean) / self.std
        for name, module in zip(self.names, self.features):
            h = module(h)
            if name in want:
                out[name] = h
                if len(out) == len(want):
                    break
        return out


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels (anisotropic TV), per element."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared feature distance (Johnson's feature reconstruction loss)."""
    return F.mse_loss(features, target.expand_as(features))
