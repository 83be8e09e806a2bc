"""Trainers of the latent-space GAN methods: dcgan, wgan, wgan-gp, cgan (pgan lives in pgan.py).

Each is a :class:`~styleforge.train.core.trainer.Trainer` built as ``Cls(out_dir, opts, steps=…, …)``
(see train/gan/__init__.py). One *step* is one generator update (after ``n_critic`` critic updates).
Every method keeps an EMA copy of the generator (``g_ema``, decay ``--ema``, warmed up as
min(ema, (1+t)/(10+t))); previews, exports and the quality measure use it.
"""
from __future__ import annotations

import sys

import numpy as np
import torch
import torch.nn.functional as F

from ...runtime.images import make_grid
from .data import GANData
from ..core.trainer import Trainer
from .options import CGANOptions, DCGANOptions, GANOptions, WGANGPOptions, WGANOptions


def to_uint8_tiles(img: torch.Tensor, min_side: int = 32) -> list[np.ndarray]:
    """Generator output N×C×R×R in [-1, 1] → list of RGB uint8 tiles, nearest-upscaled to ≥ min_side."""
    a = ((img.detach().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
    if a.shape[1] == 1:
        a = np.repeat(a, 3, 1)
    rep = max(1, min_side // a.shape[-1])
    a = a.repeat(rep, 2).repeat(rep, 3)
    return [x.transpose(1, 2, 0) for x in a]


class GANTrainer(Trainer):
    family = "gan"
    interface = "generator"
    Options = GANOptions
    conditional = False
    g_model = "dcgan_generator"
    d_model = "dcgan_discriminator"
    d_norm = "batch"

    # --- building -------------------------------------------------------------------------------
    def generator_config(self) -> dict:
        o = self.opts
        cfg = {"nz": int(o["nz"]), "channels": self.data.channels, "resolution": int(o["resolution"]),
               "width_mult": float(o["width_mult"])}
        if self.conditional:
            cfg["n_classes"] = self.data.n_classes
        return cfg

    def discriminator_config(self) -> dict:
        o = self.opts
        cfg = {"channels": self.data.channels, "resolution": int(o["resolution"]), "width_mult": float(o["width_mult"]),
               "norm": self.d_norm}
        if self.conditional:
            cfg.update(n_classes=self.data.n_classes, projection=bool(o.get("projection")))
        return cfg

    def build(self) -> None:
        o = self.opts
        self.data = GANData(o["data"], int(o["resolution"]), o.get("channels"), seed=self.seed)
        if self.conditional and self.data.n_classes < 2:
            print(f"warning: {self.method} on {self.data.source}: only one class", file=sys.stderr)
        gcfg = self.generator_config()
        self.add_model("g", self.g_model, **gcfg)
        self.add_model("d", self.d_model, **self.discriminator_config())
        self.add_model("g_ema", self.g_model, **gcfg)
        self.g_ema.load_state_dict(self.g.state_dict())
        self.g_ema.requires_grad_(False)
        self.build_optimizers()
        gen = torch.Generator().manual_seed(self.seed + 12345)
        self.fixed_z = torch.randn(64, int(o["nz"]), generator=gen).to(self.device)
        self.fixed_y = (torch.arange(64) % max(1, self.data.n_classes)).to(self.device) if self.conditional else None

    def build_optimizers(self) -> None:
        lr = float(self.opts["lr"])
        betas = tuple(self.opts.get("betas", (0.5, 0.999)))
        self.add_optimizer("opt_g", torch.optim.Adam(self.g.parameters(), lr=lr, betas=betas))
        self.add_optimizer("opt_d", torch.optim.Adam(self.d.parameters(), lr=lr, betas=betas))

    def extra_config(self) -> dict:
        return {"data": {
            "source": self.data.source, "classes": self.data.classes, "channels": self.data.channels,
            "resolution": int(self.opts["resolution"])}}

    def extra_tensors(self) -> dict:
        return {"fixed_z": self.fixed_z}

    def load_extra_tensors(self, tensors: dict) -> None:
        if "fixed_z" in tensors:
            self.fixed_z = tensors["fixed_z"].to(self.device)

    # --- the loop pieces ------------------------------------------------------------------------
    def next_batch(self, step: int):
        return step

    def sample_z(self) -> torch.Tensor:
        """Latents for this rank's share of the step's batch (drawn for the whole global batch, then sharded, so
        data-parallel ranks together draw what one process would)."""
        return self.world.shard(torch.randn(self.global_batch, int(self.opts["nz"]))).to(self.device)

    def real(self, step: int, k: int = 0):
        x, y = self.data.batch(step, int(self.opts["batch"]), k, shard=self.world)
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def train_step(self, batch, step: int) -> dict[str, float]:
        losses = self.gan_step(step)
        self.update_ema(step)
        return losses

    def gan_step(self, step: int) -> dict[str, float]:
        raise NotImplementedError

    @torch.no_grad()
    def update_ema(self, step: int) -> None:
        decay = min(float(self.opts["ema"]), (1 + step) / (10 + step))
        for pe, p in zip(self.g_ema.parameters(), self.g.parameters()):
            pe.lerp_(p, 1 - decay)
        for be, b in zip(self.g_ema.buffers(), self.g.buffers()):
            be.copy_(b)

    @torch.no_grad()
    def preview(self, step: int) -> np.ndarray:
        was = self.g_ema.training
        self.g_ema.eval()
        img = self.g_ema(self.fixed_z, self.fixed_y)
        self.g_ema.train(was)
        return make_grid(to_uint8_tiles(img), ncols=8, pad=1)


class DCGANTrainer(GANTrainer):
    """DCGAN: BCE (non-saturating generator loss), Adam 2e-4, β1 0.5."""

    method = "dcgan"
    Options = DCGANOptions

    def _d(self, x, y):
        return self.d(x, y) if self.conditional else self.d(x)

    def _g(self, z, y):
        return self.g(z, y) if self.conditional else self.g(z)

    def gan_step(self, step):
        real, y = self.real(step)
        z = self.sample_z()
        fake = self._g(z, y)
        d_real, d_fake = self._d(real, y), self._d(fake.detach(), y)
        loss_d = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + \
            F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        out = self._d(fake, y)
        loss_g = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        return {"d": loss_d.item(), "g": loss_g.item(), "d_real": torch.sigmoid(d_real).mean().item(),
                "d_fake": torch.sigmoid(d_fake).mean().item()}


class CGANTrainer(DCGANTrainer):
    """Conditional GAN (Mirza 2014): label embedding concatenated to z; one-hot label maps
    concatenated to the image in D, or a projection discriminator with ``--projection``."""

    method = "cgan"
    Options = CGANOptions
    conditional = True


class WGANTrainer(GANTrainer):
    """WGAN (Arjovsky 2017): critic without batch norm, n_critic updates per generator update,
    weight clipping to ±clip, RMSprop. The paper's lr 5e-5 gave only blurs in the default
    minutes-long run (measured, docs/gan.md); the default is 2e-4."""

    method = "wgan"
    Options = WGANOptions
    d_norm = "none"

    def build_optimizers(self) -> None:
        lr = float(self.opts["lr"])
        self.add_optimizer("opt_g", torch.optim.RMSprop(self.g.parameters(), lr=lr))
        self.add_optimizer("opt_d", torch.optim.RMSprop(self.d.parameters(), lr=lr))

    def penalty(self, real, fake):
        return None

    def after_critic_step(self):
        c = float(self.opts["clip"])
        with torch.no_grad():
            for p in self.d.parameters():
                p.clamp_(-c, c)

    def gan_step(self, step):
        out = {}
        for k in range(int(self.opts["n_critic"])):
            real, _ = self.real(step, k)
            with torch.no_grad():
                fake = self.g(self.sample_z())
            w = self.d(real).mean() - self.d(fake).mean()
            loss_d = -w
            gp = self.penalty(real, fake)
            if gp is not None:
                loss_d = loss_d + float(self.opts["gp_lambda"]) * gp
                out["gp"] = gp.item()
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            self.after_critic_step()
        loss_g = -self.d(self.g(self.sample_z())).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        return {"d": loss_d.item(), "g": loss_g.item(), "w": w.item(), **out}


def gradient_penalty(critic, real, fake, world=None, **kw):
    """WGAN-GP's penalty at random interpolates; the weights are drawn for the global batch and sharded (`world`)."""
    n = len(real) * (world.size if world is not None else 1)
    a = torch.rand(n, 1, 1, 1)
    a = (world.shard(a) if world is not None else a).to(real.device)
    x = (real + a * (fake - real)).requires_grad_(True)
    grad, = torch.autograd.grad(critic(x, **kw).sum(), x, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


class WGANGPTrainer(WGANTrainer):
    """WGAN-GP (Gulrajani 2017): gradient penalty λ = 10 instead of clipping, layer-norm critic,
    n_critic 5, Adam 1e-4 with betas (0, 0.9)."""

    method = "wgan-gp"
    Options = WGANGPOptions
    d_norm = "layer"

    def build_optimizers(self) -> None:
        GANTrainer.build_optimizers(self)

    def penalty(self, real, fake):
        return gradient_penalty(self.d, real, fake, world=self.world)

    def after_critic_step(self):
        pass
