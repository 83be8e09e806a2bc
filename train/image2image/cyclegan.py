"""CycleGAN (Zhu et al. 2017): unpaired image-to-image translation between domains A and B.

- Generators G_A: A→B and G_B: B→A, ResNet style (Johnson et al.): reflection pad + 7×7 conv,
  two stride-2 downsamplings, ``n_blocks`` residual blocks (6 for ≤128 px in the paper, 9 for
  256 px), two stride-2 transposed convs, 7×7 conv, tanh; instance norm throughout. Fully
  convolutional: H and W must be multiples of 4 (the runtime reflect-pads and crops).
- Discriminators D_A (judges B-domain images made by G_A, as in the reference code) and D_B:
  PatchGAN with instance norm (``n_layers=3`` → 70×70 patches).
- Losses: LSGAN (MSE to 1/0); cycle consistency λ_cycle = 10 (‖G_B(G_A(a)) − a‖₁ and the
  reverse); identity 0.5·λ_cycle (‖G_A(b) − b‖₁, ‖G_B(a) − a‖₁).
- History: each discriminator sees generated images through an image pool of 50 (half the
  time a stored older fake instead of the newest); the pools are checkpointed.
- Adam lr 2e-4, β = (0.5, 0.999); lr constant for ``decay_start`` steps (default: half the
  run), then linearly to 0 at the last step; the schedulers are checkpointed.

Train with ``styleforge train gan --method cyclegan`` or directly::

    CycleGANTrainer("runs/cg", {"resolution": 64}, steps=1000).fit()
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...runtime.errors import StyleForgeError
from ..core.registry import register_model
from .common import (ImageToImageTrainer, check_patchgan_size, init_weights, norm_layer, set_requires_grad,
                     to_uint8_images, width)
from .options import CycleGANOptions

#: the losses a step reports (and the run's history records), in this order
LOSSES = ("D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B")


class ResnetBlock(nn.Module):
    def __init__(self, ch: int, norm: str):
        super().__init__()
        self.block = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), norm_layer(norm, ch), nn.ReLU(True),
                                   nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), norm_layer(norm, ch))

    def forward(self, x):
        return x + self.block(x)


@register_model("cyclegan_resnet")
class ResnetGenerator(nn.Module):
    """c7s1-64, d128, d256, R256 × n_blocks, u128, u64, c7s1-3 (channels × width_mult)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3, width_mult: float = 1.0, n_blocks: int = 9,
                 norm: str = "instance"):
        super().__init__()
        ngf = width(64, width_mult)
        bias = norm != "batch"
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7, bias=bias), norm_layer(norm, ngf), nn.ReLU(True)]
        for i in range(2):
            m = 2 ** i
            layers += [nn.Conv2d(ngf * m, ngf * m * 2, 3, 2, 1, bias=bias), norm_layer(norm, ngf * m * 2), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 4, norm) for _ in range(n_blocks)]
        for i in range(2):
            m = 2 ** (2 - i)
            layers += [nn.ConvTranspose2d(ngf * m, ngf * m // 2, 3, 2, 1, output_padding=1, bias=bias),
                       norm_layer(norm, ngf * m // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        init_weights(self)

    size_multiple = 4

    def forward(self, x):
        return self.model(x)


class ImagePool:
    """Shrivastava et al.'s history buffer: up to `size` past fakes; each query returns, per image,
    the new fake or (with probability ½ once full) a stored one that the new fake replaces.
    Random choices use torch's RNG, which the checkpoint restores, so a resumed run matches."""

    def __init__(self, size: int):
        self.size = int(size)
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size <= 0:
            return images
        out = []
        for img in images.detach():
            img = img[None]
            if len(self.images) < self.size:
                self.images.append(img.clone())
                out.append(img)
            elif torch.rand(()).item() > 0.5:
                k = int(torch.randint(0, self.size, ()).item())
                out.append(self.images[k].clone())
                self.images[k] = img.clone()
            else:
                out.append(img)
        return torch.cat(out, 0)

    def state(self) -> torch.Tensor:
        return torch.cat(self.images, 0).cpu() if self.images else torch.zeros(0)

    def load(self, t: torch.Tensor, device) -> None:
        self.images = [t[i:i + 1].to(device) for i in range(t.shape[0])] if t.ndim == 4 else []


class CycleGANTrainer(ImageToImageTrainer):
    method = "cyclegan"
    Options = CycleGANOptions

    def check_options(self, options) -> None:
        if int(options.resolution) % 4:
            raise StyleForgeError(f"cyclegan: --resolution {options.resolution} must be a multiple of 4")

    def derive_options(self, options) -> dict:
        """``decay_start`` defaults to half the run (recorded, so a resumed run keeps its schedule)."""
        opts = super().derive_options(options)
        if opts["decay_start"] is None:
            opts["decay_start"] = self.steps // 2
        return opts

    def build(self) -> None:
        o = self.opts
        res, wm = int(o["resolution"]), float(o["width_mult"])
        check_patchgan_size(res, int(o["n_layers"]))
        for g in ("netG_A", "netG_B"):
            self.add_model(g, "cyclegan_resnet", width_mult=wm, n_blocks=int(o["n_blocks"]))
        for d in ("netD_A", "netD_B"):
            self.add_model(d, "patchgan", in_channels=3, width_mult=wm, n_layers=int(o["n_layers"]), norm="instance")
        lr, decay_start, total = float(o["lr"]), int(o["decay_start"]), self.steps
        span = max(1, total - decay_start)

        def rule(step: int) -> float:  # constant, then linearly to 0 at the last step
            return 1.0 - max(0, step - decay_start) / span

        for name, params in (("optG", [*self.netG_A.parameters(), *self.netG_B.parameters()]),
                             ("optD", [*self.netD_A.parameters(), *self.netD_B.parameters()])):
            optim = torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))
            self.add_optimizer(name, optim, torch.optim.lr_scheduler.LambdaLR(optim, rule))
        self.pool_A = ImagePool(int(o["pool_size"]))  # fakes made by G_A (domain B), judged by D_A
        self.pool_B = ImagePool(int(o["pool_size"]))
        from .data import UnpairedDataset, center_crop, default_textures

        if o["data"]:
            self.data = UnpairedDataset.from_folder(o["data"], res, seed=self.seed)
            self.preview_a = [center_crop(i, res) for i in self.data.a.images[:3]]
            self.preview_b = [center_crop(i, res) for i in self.data.b.images[:3]]
        else:
            a, b = default_textures(res)
            self.data = UnpairedDataset(a, b, res, seed=self.seed, load=3 * res)
            s = 2 * res  # whole-texture previews: a 2×res window of each domain
            self.preview_a = [center_crop(a[0], s)]
            self.preview_b = [center_crop(b[0], s)]
        self.gan_loss = nn.MSELoss()
        self.l1 = nn.L1Loss()

    def extra_config(self) -> dict:
        return {"size_multiple": 4, "direction": "A->B (netG_A), B->A (netG_B)",
                "data": self.opts["data"] or "default: A = grass, B = gravel (scikit-image textures)"}

    def extra_tensors(self) -> dict:
        return {"pool_A": self.pool_A.state(), "pool_B": self.pool_B.state()}

    def load_extra_tensors(self, tensors: dict) -> None:
        for name in ("pool_A", "pool_B"):
            if name in tensors:
                getattr(self, name).load(tensors[name], self.device)

    def next_batch(self, step: int):
        a, b = self.data.batch(step, int(self.opts["batch"]), shard=self.world)
        return a.to(self.device), b.to(self.device)

    def _gan(self, pred: torch.Tensor, real: bool) -> torch.Tensor:
        return self.gan_loss(pred, torch.ones_like(pred) if real else torch.zeros_like(pred))

    def train_step(self, batch, step: int) -> dict[str, float]:
        real_a, real_b = batch
        lam_c, lam_i = float(self.opts["lambda_cycle"]), float(self.opts["lambda_identity"])
        # generators
        set_requires_grad(self.netD_A, False)
        set_requires_grad(self.netD_B, False)
        self.optG.zero_grad(set_to_none=True)
        fake_b = self.netG_A(real_a)
        rec_a = self.netG_B(fake_b)
        fake_a = self.netG_B(real_b)
        rec_b = self.netG_A(fake_a)
        losses = {}
        if lam_i > 0:
            losses["idt_A"] = self.l1(self.netG_A(real_b), real_b) * lam_c * lam_i
            losses["idt_B"] = self.l1(self.netG_B(real_a), real_a) * lam_c * lam_i
        else:
            losses["idt_A"] = losses["idt_B"] = torch.zeros(())
        losses["G_A"] = self._gan(self.netD_A(fake_b), True)
        losses["G_B"] = self._gan(self.netD_B(fake_a), True)
        losses["cycle_A"] = self.l1(rec_a, real_a) * lam_c
        losses["cycle_B"] = self.l1(rec_b, real_b) * lam_c
        sum(losses.values()).backward()
        self.optG.step()
        # discriminators, on pooled fakes
        set_requires_grad(self.netD_A, True)
        set_requires_grad(self.netD_B, True)
        self.optD.zero_grad(set_to_none=True)
        pooled_b = self.pool_A.query(fake_b)
        pooled_a = self.pool_B.query(fake_a)
        d_a = 0.5 * (self._gan(self.netD_A(real_b), True) + self._gan(self.netD_A(pooled_b.detach()), False))
        d_b = 0.5 * (self._gan(self.netD_B(real_a), True) + self._gan(self.netD_B(pooled_a.detach()), False))
        (d_a + d_b).backward()
        self.optD.step()
        for sch in self.schedulers.values():
            sch.step()
        losses["D_A"], losses["D_B"] = d_a, d_b
        return {k: float(losses[k].item()) for k in LOSSES}

    @property
    def lr(self) -> float:
        return float(self.optG.param_groups[0]["lr"])

    @torch.no_grad()
    def translate(self, images: list[np.ndarray], reverse: bool = False) -> list[np.ndarray]:
        from .data import _to_tensor

        g = self.netG_B if reverse else self.netG_A
        g.eval()
        try:
            return [to_uint8_images(g(_to_tensor(i[None]).to(self.device)))[0] for i in images]
        finally:
            g.train()

    def preview(self, step: int) -> np.ndarray | None:
        """Row per image: A, G_A(A), G_B(G_A(A)) then B, G_B(B), G_A(G_B(B))."""
        from ...runtime.images import make_grid

        tiles = []
        for a, b in zip(self.preview_a, self.preview_b):
            fb = self.translate([a])[0]
            fa = self.translate([b], reverse=True)[0]
            tiles += [a, fb, self.translate([fb], reverse=True)[0], b, fa, self.translate([fa])[0]]
        return make_grid(tiles, ncols=6)
