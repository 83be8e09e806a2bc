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

Train with ``styleforge train gan --family pix2pix`` or directly::

    Pix2PixTrainer("runs/p2p", {"resolution": 64}, steps=600).fit()
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..runtime.errors import StyleForgeError
from .registry import register_model
from .trainer import Trainer


def _norm(kind: str, ch: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(ch, affine=False, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "none":
        return nn.Identity()
    raise StyleForgeError(f"unknown norm {kind!r}; choose one of: batch, instance, none")


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """pix2pix/CycleGAN initialisation: conv weights N(0, 0.02), biases 0, norm scales N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


def unet_depth(resolution: int) -> int:
    """U-Net depth for a training size: the largest d ≤ 8 with resolution % 2**d == 0 (d ≥ 3)."""
    d = 0
    while d < 8 and resolution % (2 ** (d + 1)) == 0:
        d += 1
    if d < 3:
        raise StyleForgeError(f"pix2pix: --resolution {resolution} must be a multiple of 8 (U-Net depth ≥ 3)")
    return d


def width(base: int, width_mult: float) -> int:
    return max(1, int(round(base * width_mult)))


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
                layers.append(_norm(norm, ch[i]))
            self.down.append(nn.Sequential(*layers))
        n_drop = min(3, max(0, depth - 3)) if dropout > 0 else 0
        self.up = nn.ModuleList()
        for i in range(depth - 1, -1, -1):  # up[k] undoes down[depth-1-k]
            cin = ch[i] if i == depth - 1 else 2 * ch[i]
            if i == 0:
                self.up.append(nn.Sequential(nn.ReLU(True), nn.ConvTranspose2d(cin, out_channels, 4, 2, 1), nn.Tanh()))
                continue
            layers = [nn.ReLU(True), nn.ConvTranspose2d(cin, ch[i - 1], 4, 2, 1, bias=bias), _norm(norm, ch[i - 1])]
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


@register_model("patchgan")
class PatchDiscriminator(nn.Module):
    """PatchGAN: n_layers stride-2 convs then two stride-1 convs; one logit per (70×70 for n=3) patch."""

    def __init__(self, in_channels: int = 6, width_mult: float = 1.0, n_layers: int = 3, norm: str = "instance"):
        super().__init__()
        ndf = width(64, width_mult)
        bias = norm != "batch"
        layers = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2 ** n, 8)
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, 2, 1, bias=bias), _norm(norm, ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2 ** n_layers, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, 1, 1, bias=bias), _norm(norm, ndf * mult), nn.LeakyReLU(0.2, True),
                   nn.Conv2d(ndf * mult, 1, 4, 1, 1)]
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x):
        return self.model(x)


def receptive_field(n_layers: int) -> int:
    """Receptive field of a PatchGAN with n_layers (3 → 70)."""
    rf = 1
    for stride in [1, 1] + [2] * n_layers:  # walked from the output back to the input
        rf = (rf - 1) * stride + 4
    return rf


def check_patchgan_size(resolution: int, n_layers: int) -> None:
    """A PatchGAN with n_layers needs crops of at least 3·2**n_layers pixels (24 for n_layers = 3)."""
    need = 3 * 2 ** n_layers
    if n_layers < 1 or resolution < need:
        raise StyleForgeError(f"--resolution {resolution} is too small for a PatchGAN with --n-layers {n_layers} "
                              f"(needs at least {need} px); raise --resolution or lower --n-layers")


def set_requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def opt(opts: dict, key: str, default):
    """An option from the CLI's opts dict; None (flag not given) means the family default."""
    v = opts.get(key)
    return default if v is None else v


def to_uint8_images(t: torch.Tensor) -> list[np.ndarray]:
    """N×3×H×W in [-1, 1] → list of H×W×3 uint8."""
    a = ((t.detach().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return list(a)


class ImageToImageTrainer(Trainer):
    """Shared option handling of pix2pix and CycleGAN: ``DEFAULTS`` filled from the CLI's opts dict
    (None = not given), recorded in the checkpoint config; subclasses may adjust them in ``resolve_options``."""

    DEFAULTS: dict = {}

    def __init__(self, out_dir, opts: dict | None = None, **kw):
        opts = dict(opts or {})
        self.opts = {k: opt(opts, k, v) for k, v in self.DEFAULTS.items()}
        self.resolve_options(int(kw.get("steps", 0) or 0))
        kw.setdefault("config", {**{k: v for k, v in opts.items() if v is not None}, **self.opts})
        if opts.get("device") and "device" not in kw:
            kw["device"] = opts["device"]
        super().__init__(out_dir, **kw)

    def resolve_options(self, steps: int) -> None:
        """Derive or check options once the defaults are in ``self.opts``."""


class Pix2PixTrainer(ImageToImageTrainer):
    family = "pix2pix"
    loss_names = ("G_GAN", "G_L1", "D_real", "D_fake")
    default_steps = 5000  # `train gan` without --steps: ~4 min on an idle 2-core CPU at the defaults
    DEFAULTS = {"resolution": 64, "batch": 4, "width_mult": 0.25, "lr": 2e-4, "lambda_l1": 100.0, "n_layers": 3,
                "norm": "instance", "data": None}

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
        from .i2i_data import PairedDataset, center_crop, default_edges2photos, default_edges2photos_preview

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
        a, b = self.data.batch(step, int(self.opts["batch"]))
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
        from .i2i_data import _to_tensor

        self.netG.eval()
        try:
            out = [to_uint8_images(self.netG(_to_tensor(a[None]).to(self.device)))[0] for a in images_a]
        finally:
            self.netG.train()
        return out

    def preview(self, step: int) -> np.ndarray | None:
        """Rows of (A, G(A), B) for up to four images (eval mode: no dropout)."""
        from ..runtime.images import make_grid

        tiles = []
        for a, b in self.preview_pairs[:4]:
            tiles += [a, self.translate([a])[0], b]
        return make_grid(tiles, ncols=3)
