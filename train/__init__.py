"""styleforge.train — models, losses, trainers and optimisation loops (PyTorch).

Names are loaded lazily so that ``import styleforge.train`` (done by the CLI to register
its subcommands) does not import torch.
"""
from importlib import import_module

_LAZY = {
    "gram_matrix": "styleforge.train.core.gram",
    "whiten_color": "styleforge.train.wct.transforms",
    "style_loss": "styleforge.train.core.gram",
    "VGG": "styleforge.train.core.vgg",
    "build_model": "styleforge.train.core.registry",
    "register_model": "styleforge.train.core.registry",
    "Trainer": "styleforge.train.core.trainer",
    "load_modules": "styleforge.train.core.checkpoint",
    "save_checkpoint": "styleforge.train.core.checkpoint",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'styleforge.train' has no attribute {name!r}")
