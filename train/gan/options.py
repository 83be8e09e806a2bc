"""Options of ``styleforge train gan --method dcgan|wgan|wgan-gp|cgan|pgan`` (torch-free: the CLI is
generated from these dataclasses). One *step* is one generator update."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.options import RunOptions, opt


@dataclass
class GANOptions(RunOptions):
    """What every latent-space GAN takes."""

    data: str | None = opt(None, "image folder (one subfolder per class for cgan); default: the built-in set "
                                 "(builtin:digits; also builtin:lfw)")
    resolution: int = opt(16, "image side in pixels (a power of two)")
    batch: int = opt(64, "batch size")
    width_mult: float = opt(0.5, "channel width multiplier")
    lr: float = opt(2e-4, "learning rate")
    nz: int = opt(64, "latent size")
    ema: float = opt(0.999, "EMA decay of the generator copy (warmed up as min(ema, (1+t)/(10+t)))")
    channels: int | None = opt(None, "force 1 or 3 image channels", choices=[1, 3])
    betas: tuple[float, float] = opt((0.5, 0.999), "Adam betas", cli=False)


@dataclass
class DCGANOptions(GANOptions):
    steps: int = opt(1500, "generator steps")


@dataclass
class CGANOptions(DCGANOptions):
    projection: bool = opt(False, "projection discriminator (Miyato & Koyama 2018) instead of label maps")


@dataclass
class WGANOptions(GANOptions):
    """The paper's lr 5e-5 gave only blurs in the default minutes-long run (docs/gan.md): 2e-4."""

    steps: int = opt(1000, "generator steps")
    n_critic: int = opt(5, "critic updates per generator step")
    clip: float = opt(0.01, "weight clipping bound")


@dataclass
class WGANGPOptions(GANOptions):
    steps: int = opt(600, "generator steps")
    lr: float = opt(1e-4, "learning rate")
    n_critic: int = opt(5, "critic updates per generator step")
    gp_lambda: float = opt(10.0, "gradient penalty weight")
    betas: tuple[float, float] = opt((0.0, 0.9), "Adam betas", cli=False)


@dataclass
class PGANOptions(GANOptions):
    steps: int = opt(2400, "generator steps")
    lr: float = opt(1e-3, "learning rate")
    n_critic: int = opt(1, "critic updates per generator step")
    gp_lambda: float = opt(10.0, "gradient penalty weight")
    fade_steps: int | None = opt(None, "steps per fade-in and per stable phase (default: spread over --steps)")
    betas: tuple[float, float] = opt((0.0, 0.99), "Adam betas", cli=False)
