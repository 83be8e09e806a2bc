"""Imports every module that registers models, so the registry is complete. Add yours here."""
from importlib import import_module

MODEL_MODULES = [
    "styleforge.train.cyclegan",
    "styleforge.train.pix2pix",
    "styleforge.train.transformer_net",
    "styleforge.train.wct_models",
    "styleforge.train.gan_models",
    "styleforge.train.pgan",
]

for _m in MODEL_MODULES:
    import_module(_m)
