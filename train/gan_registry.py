"""The one registry of GAN families for ``styleforge train gan --family NAME``.

Contract (every entry of :data:`GAN_TRAINERS`):

* the value is ``"module:Class"``; ``module`` is relative to ``styleforge.train`` (e.g.
  ``"gan_trainers:DCGANTrainer"`` → ``styleforge.train.gan_trainers.DCGANTrainer``) and is
  imported lazily, only when that family is chosen;
* ``Class`` subclasses :class:`styleforge.train.trainer.Trainer` and is constructed as::

      Cls(out_dir, opts: dict, steps=..., seed=..., resume=..., checkpoint_every=..., preview_every=...)

  ``opts`` holds every option of the command line as a plain dict (keys are the argparse
  dests: ``family``, ``data``, ``resolution``, ``batch``, ``width_mult``, ``lr``, ``clip``,
  ``n_critic``, ``gp_lambda``, ``projection``, ``fade_steps``, ``lambda_l1``, ``n_layers``,
  ``n_blocks``, ``lambda_cycle``, ``lambda_identity``, ``pool_size``, ``decay_start``, ...;
  an option the user did not give is ``None``); each trainer reads what it needs and fills
  in its own defaults. It should pass ``opts`` (with its defaults resolved) on to
  ``Trainer.__init__(..., config=...)`` so the checkpoint records them;
* without ``--steps`` the command uses the class attribute ``default_steps`` (else 1000);
  ``--checkpoint-every`` defaults to steps/4 and ``--sample-every`` to the checkpoint interval;
  ``--device`` arrives in ``opts["device"]`` (pass it on as ``Trainer(..., device=...)``);
* the command then calls ``trainer.fit()`` and prints the final checkpoint path;
* the ``family`` written into the checkpoint config is the export family name registered in
  ``export/registry.py`` (``generator`` for the latent-space families here).

The ``pix2pix`` and ``cyclegan`` lines are placeholders for the engineer building them:
edit the class names there if yours differ.
"""
from __future__ import annotations

import importlib

from ..runtime.errors import StyleForgeError

GAN_TRAINERS: dict[str, str] = {
    "dcgan": "gan_trainers:DCGANTrainer",
    "wgan": "gan_trainers:WGANTrainer",
    "wgan-gp": "gan_trainers:WGANGPTrainer",
    "cgan": "gan_trainers:CGANTrainer",
    "pgan": "pgan:PGANTrainer",
    "pix2pix": "pix2pix:Pix2PixTrainer",
    "cyclegan": "cyclegan:CycleGANTrainer",
}


def family_names() -> list[str]:
    return sorted(GAN_TRAINERS)


def get_trainer_class(name: str):
    """The trainer class of a family; a clear error listing the names for an unknown one."""
    if name not in GAN_TRAINERS:
        raise StyleForgeError(f"--family: unknown GAN family {name!r}; choose one of: {', '.join(family_names())}")
    mod_name, _, cls_name = GAN_TRAINERS[name].partition(":")
    try:
        mod = importlib.import_module(f"{__package__}.{mod_name}")
    except ModuleNotFoundError as exc:
        raise StyleForgeError(f"--family {name}: its trainer module {mod_name!r} is not available ({exc})") from exc
    try:
        return getattr(mod, cls_name)
    except AttributeError:
        raise StyleForgeError(f"--family {name}: {mod_name} has no trainer class {cls_name!r}") from None
