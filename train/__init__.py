"""styleforge.train — models, losses, trainers and optimisation loops (PyTorch).

Names are loaded lazily so that ``import styleforge.train`` (done by the CLI to register
its subcommands) does not import torch.
"""
from importlib import import_module

_LAZY = {
    "gram_matrix": "styleforge.train.gram",
    "whiten_color": "styleforge.train.wct_transforms",
    "style_loss": "styleforge.train.gram",
    "VGG": "styleforge.train.vgg",
    "build_model": "styleforge.train.registry",
    "register_model": "styleforge.train.registry",
    "Trainer": "styleforge.train.trainer",
    "load_modules": "styleforge.train.checkpoint",
    "save_checkpoint": "styleforge.train.checkpoint",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'styleforge.train' has no attribute {name!r}")
