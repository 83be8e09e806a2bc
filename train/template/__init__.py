"""The template family: copy this folder to start a new one (as the pix2pix/CycleGAN repository ships
``template_model.py``). It trains a tiny image-to-image network to reconstruct photo crops, exports it as
a ``translator`` bundle, and is run by the existing translator runtime. A new family is:

- ``train/<family>/``: ``__init__.py`` (this declaration), ``options.py`` (the options dataclass: the
  ``styleforge train <command>`` flags are generated from it), ``models.py`` (``@register_model``
  ``nn.Module`` classes), ``trainer.py`` (a :class:`~styleforge.train.core.trainer.Trainer` subclass);
- ``export/<family>/``: ``__init__.py`` (``EXPORTER = ExportFamily(...)``) and ``exporter.py``;
- ``runtime/families/<interface>.py`` only when no existing interface (stylizer, wct, generator,
  translator) runs its bundles;
- ``tests/test_<family>.py`` and ``docs/<family>.md``.

Nothing else lists families: they are found by a package scan. ``hidden=True`` keeps this one out of
``styleforge --help`` (``styleforge train template --help`` still works); drop it in your copy.
"""
from ..core.family import Method, TrainFamily

FAMILY = TrainFamily(
    name="template",
    summary="template family: a tiny reconstruction network (copy this folder to start a family)",
    methods=(Method(name="template", trainer="trainer:TemplateTrainer", options="options:TemplateOptions",
                    command="template",
                    summary="train the template family's tiny reconstruction network (a starting point to copy)"),),
    model_modules=("models",),
    hidden=True,
)
