"""Models by name (as pix2pix/CycleGAN's ``define_G``): ``build_model("transformer_net", width_mult=0.25)``.

A model class registers itself with ``@register_model("name")`` in a module its family declares
(``TrainFamily.model_modules``); its constructor's keyword arguments are its JSON config, so a
checkpoint's config rebuilds it exactly.
"""
from __future__ import annotations

from ...runtime.errors import StyleForgeError, unknown_name

MODELS: dict[str, type] = {}


def register_model(name: str):
    def deco(cls):
        if name in MODELS and MODELS[name] is not cls:
            raise ValueError(f"model name {name!r} registered twice")
        MODELS[name] = cls
        cls.registry_name = name
        return cls
    return deco


def _import_model_modules() -> None:
    """Import each family's declared model modules (their ``@register_model`` classes register on import)."""
    from .family import train_families

    for fam in train_families().values():
        for mod in fam.model_modules:
            fam.resolve(mod)


def build_model(name: str, **config):
    """Instantiate a registered model from its config; unknown names and bad config fail clearly."""
    _import_model_modules()
    if name not in MODELS:
        raise unknown_name("model", name, MODELS)
    try:
        return MODELS[name](**config)
    except TypeError as e:
        raise StyleForgeError(f"model {name!r}: bad config ({e})") from None


def model_names() -> list[str]:
    _import_model_modules()
    return sorted(MODELS)
