"""Progressive GAN (Karras 2018): grow 4×4 → R×R with fade-in α, equalised learning rate, pixel
norm, minibatch stddev, WGAN-GP loss (+ drift), EMA generator.

Schedule over ``--steps`` generator steps: phases of ``--fade-steps`` steps (default: the run
split evenly into 2·L − 1 phases for L resolutions): stable 4×4, fade to 8×8, stable 8×8, …
The generator's current level and α are buffers, so checkpoints and exports carry them. A checkpoint
taken before the last growth phase exports either upsampled (nearest) to the final R×R inside the graph,
or at the side trained so far (``styleforge export --pgan-output final|native``); the bundle's
``model.config.growth`` says which.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .models import LatentGenerator, n_levels
from ..core.registry import register_model


class EqConv2d(nn.Module):
    def __init__(self, c_in, c_out, k, pad=0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, k, k))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.scale, self.pad = math.sqrt(2.0 / (c_in * k * k)), pad

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.pad)


class EqLinear(nn.Module):
    def __init__(self, c_in, c_out, gain=math.sqrt(2.0)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.scale = gain / math.sqrt(c_in)

    def forward(self, x):
        return F.linear(x, self.weight * self.scale, self.bias)


class PixelNorm(nn.Module):
    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + 1e-8)


def _lrelu():
    return nn.LeakyReLU(0.2)


def _chs(resolution, width_mult):
    L = n_levels(resolution)
    ngf = max(4, round(32 * width_mult))
    return [ngf * 2 ** max(0, min(3, L - 1 - i)) for i in range(L)]


@register_model("pgan_generator")
class PGANGenerator(LatentGenerator):
    def __init__(self, nz: int = 64, channels: int = 1, resolution: int = 16, width_mult: float = 1.0, n_classes: int = 0):
        super().__init__()
        self.nz, self.n_classes, self.channels, self.resolution = nz, 0, channels, resolution
        self.L = n_levels(resolution)
        self.chs = _chs(resolution, width_mult)
        c0 = self.chs[0]
        self.pn = PixelNorm()
        self.fc = EqLinear(nz, c0 * 16, gain=math.sqrt(2.0) / 4)
        block0 = nn.Sequential(_lrelu(), PixelNorm(), EqConv2d(c0, c0, 3, 1), _lrelu(), PixelNorm())
        self.blocks = nn.ModuleList([block0] + [
            nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), EqConv2d(self.chs[i - 1], self.chs[i], 3, 1), _lrelu(), PixelNorm(),
                          EqConv2d(self.chs[i], self.chs[i], 3, 1), _lrelu(), PixelNorm()) for i in range(1, self.L)])
        self.to_rgb = nn.ModuleList([EqConv2d(c, channels, 1) for c in self.chs])
        self.register_buffer("level", torch.tensor(self.L - 1, dtype=torch.long))
        self.register_buffer("alpha", torch.tensor(1.0))

    def synthesize(self, z, label=None, layer=None, unit_scale=None, full=True, level=None, alpha=None):
        level = int(self.level) if level is None else level
        alpha = float(self.alpha) if alpha is None else alpha
        h = self.fc(self.pn(z)).reshape(z.shape[0], self.chs[0], 4, 4)
        act, prev = None, None
        for i in range(level + 1):
            if i == level:
                prev = h
            h, act = self.dissect_tap(self.blocks[i](h), i, layer, unit_scale, act)
        img = self.to_rgb[level](h)
        if alpha < 1.0 and level > 0:
            skip = F.interpolate(self.to_rgb[level - 1](prev), scale_factor=2, mode="nearest")
            img = skip + alpha * (img - skip)
        side = 4 * 2 ** level  # a Python int: while tracing, img.shape[-1] is a tensor F.interpolate cannot take
        if full and side != self.resolution:
            img = F.interpolate(img, scale_factor=float(self.resolution // side), mode="nearest")
        return img, act

    def trained_side(self) -> int:
        """The side trained so far (4·2^level): below ``resolution`` before the last growth phase."""
        return 4 * 2 ** int(self.level)

    def blocks_and_sizes(self) -> list[tuple[str, int, int]]:
        """The dissectable layers that run at the current level (later blocks are not grown yet)."""
        return super().blocks_and_sizes()[: int(self.level) + 1]


def minibatch_stddev(x, group=4):
    n, c, h, w = x.shape
    g = min(group, n)
    while n % g:
        g -= 1
    y = x.reshape(g, -1, c, h, w)
    y = (y - y.mean(0)).pow(2).mean(0).add(1e-8).sqrt().mean((1, 2, 3))  # (n/g,)
    y = y.reshape(-1, 1, 1, 1).repeat(g, 1, h, w)
    return torch.cat([x, y], 1)


@register_model("pgan_discriminator")
class PGANDiscriminator(nn.Module):
    def __init__(self, channels: int = 1, resolution: int = 16, width_mult: float = 1.0):
        super().__init__()
        self.L = n_levels(resolution)
        self.chs = _chs(resolution, width_mult)
        self.from_rgb = nn.ModuleList([nn.Sequential(EqConv2d(channels, c, 1), _lrelu()) for c in self.chs])
        self.blocks = nn.ModuleList([nn.Identity()] + [
            nn.Sequential(EqConv2d(self.chs[i], self.chs[i], 3, 1), _lrelu(), EqConv2d(self.chs[i], self.chs[i - 1], 3, 1), _lrelu(),
                          nn.AvgPool2d(2)) for i in range(1, self.L)])
        c0 = self.chs[0]
        self.final_conv = EqConv2d(c0 + 1, c0, 3, 1)
        self.final_fc = EqLinear(c0 * 16, c0)
        self.out = EqLinear(c0, 1, gain=1.0)

    def forward(self, x, level: int, alpha: float = 1.0):
        h = self.from_rgb[level](x)
        if level > 0:
            h = self.blocks[level](h)
            if alpha < 1.0:
                skip = self.from_rgb[level - 1](F.avg_pool2d(x, 2))
                h = skip + alpha * (h - skip)
            for i in range(level - 1, 0, -1):
                h = self.blocks[i](h)
        h = F.leaky_relu(self.final_conv(minibatch_stddev(h)), 0.2)
        h = F.leaky_relu(self.final_fc(h.flatten(1)), 0.2)
        return self.out(h).flatten()


from .options import PGANOptions  # noqa: E402
from .trainers import GANTrainer, gradient_penalty  # noqa: E402  (trainer below needs the models above)


class PGANTrainer(GANTrainer):
    """Progressive growing, WGAN-GP loss (λ = 10, drift 1e-3), Adam 1e-3 betas (0, 0.99), EMA."""

    method = "pgan"
    Options = PGANOptions
    g_model = "pgan_generator"
    d_model = "pgan_discriminator"

    def discriminator_config(self) -> dict:
        o = self.opts
        return {"channels": self.data.channels, "resolution": int(o["resolution"]), "width_mult": float(o["width_mult"])}

    def derive_options(self, options) -> dict:
        """``fade_steps`` defaults to the run split evenly into 2L−1 phases; the growth schedule is recorded in the
        checkpoint (and kept on --resume unless given again)."""
        opts = super().derive_options(options)
        L = n_levels(int(opts["resolution"]))
        fs = opts.get("fade_steps")
        opts["fade_steps"] = max(1, int(fs) if fs else self.steps // (2 * L - 1))
        return opts

    def phase_len(self) -> int:
        """Steps per fade and per stable phase."""
        return int(self.opts["fade_steps"])

    def schedule(self, step: int) -> tuple[int, float]:
        """(level, alpha) at `step`: stable 4×4, fade 8×8, stable 8×8, …"""
        L = n_levels(int(self.opts["resolution"]))
        phase, within = divmod(step, self.phase_len())
        level = min((phase + 1) // 2, L - 1)
        fading = phase % 2 == 1 and (phase + 1) // 2 <= L - 1
        return level, (within / self.phase_len() if fading else 1.0)

    def gan_step(self, step):
        level, alpha = self.schedule(step)
        for g in (self.g, self.g_ema):
            g.level.fill_(level)
            g.alpha.fill_(alpha)
        res = 4 * 2 ** level
        factor = int(self.opts["resolution"]) // res
        out = {}
        for k in range(int(self.opts["n_critic"])):
            real, _ = self.real(step, k)
            if factor > 1:
                real = F.avg_pool2d(real, factor)
            if alpha < 1.0 and level > 0:
                low = F.interpolate(F.avg_pool2d(real, 2), scale_factor=2, mode="nearest")
                real = low + alpha * (real - low)
            with torch.no_grad():
                fake = self.g.synthesize(self.sample_z(), full=False, level=level, alpha=alpha)[0]
            d_real = self.d(real, level, alpha)
            d_fake = self.d(fake, level, alpha)
            gp = gradient_penalty(self.d, real, fake, world=self.world, level=level, alpha=alpha)
            loss_d = d_fake.mean() - d_real.mean() + float(self.opts["gp_lambda"]) * gp + 1e-3 * d_real.pow(2).mean()
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
        fake = self.g.synthesize(self.sample_z(), full=False, level=level, alpha=alpha)[0]
        loss_g = -self.d(fake, level, alpha).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        out.update(d=loss_d.item(), g=loss_g.item(), gp=gp.item(), level=float(level), alpha=float(alpha))
        return out
