"""pix2pix (Isola et al. 2017): paired image-to-image translation.

- Generator: U-Net with skip connections. Its depth follows the training size: the largest
  ``d ≤ 8`` with ``resolution % 2**d == 0`` (64 → 6, 128 → 7, 256 → 8: a 1×1 bottleneck at
  the training size). It is fully convolutional, so at inference H and W may be any multiple
  of ``2**depth`` (the runtime reflect-pads and crops). Dropout 0.5 on the first three decoder
  blocks after the bottleneck (fewer in nets shallower than 6), as in the paper.
- Normalisation: instance norm by default (``norm="instance"``). The paper trains with batch
  norm at batch size 1 and tests with the test image's own statistics, which *is* instance
  norm; instance norm keeps that behaviour at any batch size and is identical in train and
  eval mode. ``norm="batch"`` is available (eval mode then uses the running statistics).
- Discriminator: PatchGAN (``n_layers=3`` → 70×70 receptive field) on the concatenation
  (A, B), so it judges whether B is a plausible translation of A patch by patch.
- Loss: BCE adversarial (vanilla GAN) + λ_L1 · L1(G(A), B), λ_L1 = 100; D's loss is halved.
  Adam lr 2e-4, β = (0.5, 0.999). Weights N(0, 0.02).

Train with ``styleforge train gan --method pix2pix`` or directly::

    Pix2PixTrainer("runs/p2p", {"resolution": 64}, steps=600).fit()
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...runtime.errors import StyleForgeError
from ..core.registry import register_model
from .common import (ImageToImageTrainer, check_patchgan_size, init_weights, norm_layer, set_requires_grad,
                     to_uint8_images, width)
from .options import Pix2PixOptions


def unet_depth(resolution: int) -> int:
    """U-Net depth for a training size: the largest d ≤ 8 with resolution % 2**d == 0 (d ≥ 3)."""
    d = 0
    while d < 8 and resolution % (2 ** (d + 1)) == 0:
        d += 1
    if d < 3:
        raise StyleForgeError(f"pix2pix: --resolution {resolution} must be a multiple of 8 (U-Net depth ≥ 3)")
    return d


@register_model("pix2pix_unet")
class UNetGenerator(nn.Module):
    """U-Net: encoder C64-C128-C256-C512-C512-… (×width_mult), decoder mirrored with skips, tanh out."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3, depth: int = 8, width_mult: float = 1.0,
                 norm: str = "instance", dropout: float = 0.5):
        super().__init__()
        if depth < 2:
            raise ValueError("depth must be at least 2")
        ngf = width(64, width_mult)
        self.depth = depth
        ch = [ngf * min(2 ** i, 8) for i in range(depth)]
        bias = norm != "batch"
        self.down = nn.ModuleList()
        for i in range(depth):
            if i == 0:
                self.down.append(nn.Conv2d(in_channels, ch[0], 4, 2, 1, bias=bias))
                continue
            layers = [nn.LeakyReLU(0.2, True), nn.Conv2d(ch[i - 1], ch[i], 4, 2, 1, bias=bias)]
            if i < depth - 1:  # the innermost block has no norm (its output may be 1×1)
                layers.append(norm_layer(norm, ch[i]))
            self.down.append(nn.Sequential(*layers))
        n_drop = min(3, max(0, depth - 3)) if dropout > 0 else 0
        self.up = nn.ModuleList()
        for i in range(depth - 1, -1, -1):  # up[k] undoes down[depth-1-k]
            cin = ch[i] if i == depth - 1 else 2 * ch[i]
            if i == 0:
                self.up.append(nn.Sequential(nn.ReLU(True), nn.ConvTranspose2d(cin, out_channels, 4, 2, 1), nn.Tanh()))
                continue
            layers = [nn.ReLU(True), nn.ConvTranspose2d(cin, ch[i - 1], 4, 2, 1, bias=bias), norm_layer(norm, ch[i - 1])]
            if i < depth - 1 and (depth - 1 - i) <= n_drop:
                layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))
        init_weights(self)

    @property
    def size_multiple(self) -> int:
        return 2 ** self.depth

    def forward(self, x):
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        x = self.up[0](skips[-1])
        for k in range(1, self.depth):
            x = self.up[k](torch.cat([skips[self.depth - 1 - k], x], 1))
        return x


class Pix2PixTrainer(ImageToImageTrainer):
    method = "pix2pix"
    Options = Pix2PixOptions

    def build(self) -> None:
        o = self.opts
        res = int(o["resolution"])
        depth = unet_depth(res)
        check_patchgan_size(res, int(o["n_layers"]))
        self.add_model("netG", "pix2pix_unet", depth=depth, width_mult=float(o["width_mult"]), norm=o["norm"])
        self.add_model("netD", "patchgan", in_channels=6, width_mult=float(o["width_mult"]), n_layers=int(o["n_layers"]),
                       norm=o["norm"])
        lr = float(o["lr"])
        self.add_optimizer("optG", torch.optim.Adam(self.netG.parameters(), lr=lr, betas=(0.5, 0.999)))
        self.add_optimizer("optD", torch.optim.Adam(self.netD.parameters(), lr=lr, betas=(0.5, 0.999)))
        from .data import PairedDataset, center_crop, default_edges2photos, default_edges2photos_preview

        if o["data"]:
            self.data = PairedDataset.from_folder(o["data"], res, seed=self.seed)
            self.preview_pairs = [(center_crop(a, res), center_crop(b, res)) for a, b in self.data.pairs[:4]]
        else:
            self.data = PairedDataset(default_edges2photos(res), res, seed=self.seed, load=2 * res)
            self.preview_pairs = default_edges2photos_preview(res)
        self.bce = nn.BCEWithLogitsLoss()
        self.l1 = nn.L1Loss()

    def extra_config(self) -> dict:
        return {"size_multiple": self.netG.size_multiple, "direction": "A->B",
                "data": self.opts["data"] or "default: edges -> photos (astronaut, coffee, chelsea, rocket)"}

    def next_batch(self, step: int):
        a, b = self.data.batch(step, int(self.opts["batch"]), shard=self.world)
        return a.to(self.device), b.to(self.device)

    def train_step(self, batch, step: int) -> dict[str, float]:
        real_a, real_b = batch
        fake_b = self.netG(real_a)
        # discriminator: real pairs → 1, generated pairs → 0
        set_requires_grad(self.netD, True)
        self.optD.zero_grad(set_to_none=True)
        pred_fake = self.netD(torch.cat([real_a, fake_b.detach()], 1))
        pred_real = self.netD(torch.cat([real_a, real_b], 1))
        d_fake = self.bce(pred_fake, torch.zeros_like(pred_fake))
        d_real = self.bce(pred_real, torch.ones_like(pred_real))
        (0.5 * (d_fake + d_real)).backward()
        self.optD.step()
        # generator: fool D and stay close to B in L1
        set_requires_grad(self.netD, False)
        self.optG.zero_grad(set_to_none=True)
        pred = self.netD(torch.cat([real_a, fake_b], 1))
        g_gan = self.bce(pred, torch.ones_like(pred))
        g_l1 = self.l1(fake_b, real_b) * float(self.opts["lambda_l1"])
        (g_gan + g_l1).backward()
        self.optG.step()
        set_requires_grad(self.netD, True)
        return {"G_GAN": g_gan.item(), "G_L1": g_l1.item(), "D_real": d_real.item(), "D_fake": d_fake.item()}

    @torch.no_grad()
    def translate(self, images_a: list[np.ndarray]) -> list[np.ndarray]:
        """Eval-mode translation of uint8 images whose sides are multiples of the U-Net's size rule."""
        from .data import _to_tensor

        self.netG.eval()
        try:
            out = [to_uint8_images(self.netG(_to_tensor(a[None]).to(self.device)))[0] for a in images_a]
        finally:
            self.netG.train()
        return out

    def preview(self, step: int) -> np.ndarray | None:
        """Rows of (A, G(A), B) for up to four images (eval mode: no dropout)."""
        from ...runtime.images import make_grid

        tiles = []
        for a, b in self.preview_pairs[:4]:
            tiles += [a, self.translate([a])[0], b]
        return make_grid(tiles, ncols=3)
