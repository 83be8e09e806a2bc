"""Imports every module that registers models, so the registry is complete. Add yours here."""
from importlib import import_module

MODEL_MODULES = [
    "styleforge.train.transformer_net",
]

for _m in MODEL_MODULES:
    import_module(_m)
