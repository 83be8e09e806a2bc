"""Feed-forward stylizer training (Johnson et al. 2016, perceptual losses), N styles in one
network by conditional instance norm (Dumoulin et al. 2017).

Loss network: VGG16 (``train/core/vgg.py``), content at relu2_2, style at relu1_2, relu2_2, relu3_3,
relu4_3; Adam at 1e-3. Every batch draws one style index per image (a pure function of
``(seed, step)``, like the crops), so a resumed run is the uninterrupted run. Style Gram
targets come from ``train/core/gram.py`` only.

Python API::

    from styleforge.train.stylizer.trainer import train_stylizer
    ckpt = train_stylizer(["sample:mosaic", "my_style.jpg"], "runs/two", steps=400, size=128)
"""
from __future__ import annotations

import numpy as np
import torch

from ...runtime.errors import ImageError, StyleForgeError
from ...runtime.images import make_grid
from ..core.data import CropDataset
from ..core.gram import gram_matrix, style_loss
from ..core.samples import resolve_image
from ..core.trainer import Trainer
from ..core.vgg import VGG, content_loss, total_variation
from .options import StylizerOptions

CONTENT_LAYER = "relu2_2"
STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")


def load_style_images(styles, size: int) -> list[np.ndarray]:
    """Resolve every ``--style`` (file or ``sample:NAME``); the longer side is scaled to `size`."""
    if not styles:
        raise StyleForgeError("give at least one --style image")
    out = []
    for spec in styles:
        try:
            img = resolve_image(spec)
        except ImageError as e:
            raise StyleForgeError(f"--style {e}") from None
        except StyleForgeError as e:
            raise StyleForgeError(f"--style {spec}: {e}") from None
        h, w = img.shape[:2]
        scale = size / max(h, w)
        if abs(scale - 1.0) > 1e-6:
            from PIL import Image

            img = np.asarray(Image.fromarray(img).resize((max(8, round(w * scale)), max(8, round(h * scale))),
                                                         Image.Resampling.LANCZOS))
        out.append(img)
    return out


class StylizerTrainer(Trainer):
    family = method = interface = "stylizer"
    Options = StylizerOptions

    def check_options(self, o: StylizerOptions) -> None:
        if o.size < 16 or o.size % 4:
            raise StyleForgeError(f"--size must be a multiple of 4 and at least 16, got {o.size}")
        if o.batch <= 0:
            raise StyleForgeError(f"--batch must be positive, got {o.batch}")
        if not o.styles:
            raise StyleForgeError("give at least one --style image")

    def derive_options(self, o: StylizerOptions) -> dict:
        """Records the style list and size, the loss layers and the paths as strings; leaves out what only steers
        this run (the content image cap, the checkpoint and preview intervals)."""
        opts = super().derive_options(o)
        opts.update(styles=[str(s) for s in o.styles], style_size=o.style_size or o.size, content_layer=CONTENT_LAYER,
                    style_layers=list(STYLE_LAYERS),
                    content_dir=str(o.content_dir) if o.content_dir else None,
                    vgg_weights=str(o.vgg_weights) if o.vgg_weights else None)
        for k in ("max_content_images", "checkpoint_every", "preview_every"):
            opts.pop(k, None)
        return opts

    def _read_options(self, o: StylizerOptions) -> None:
        """The options as attributes the hooks below read."""
        self.styles = [str(s) for s in o.styles]
        self.content_dir, self.size, self.batch_size = o.content_dir, o.size, o.batch
        self.weights = {"content": float(o.content_weight), "style": float(o.style_weight), "tv": float(o.tv_weight)}
        self.lr, self.vgg_weights, self.width_mult = o.lr, o.vgg_weights, o.width_mult
        self.num_res_blocks, self.style_size = o.num_res_blocks, o.style_size or o.size
        self.max_content_images = o.max_content_images

    # --- Trainer hooks -------------------------------------------------------------------------
    def build(self) -> None:
        self._read_options(self.options)
        style_images = load_style_images(self.styles, self.style_size)
        self.num_styles = len(style_images)
        self.style_images = style_images
        self.dataset = CropDataset.from_source(self.content_dir, self.size, seed=self.seed,
                                               max_images=self.max_content_images)
        self.vgg = VGG("vgg16", layers=sorted(set(STYLE_LAYERS) | {CONTENT_LAYER}), weights=self.vgg_weights).to(self.device)
        self.add_model("net", "transformer_net", width_mult=self.width_mult, num_styles=self.num_styles,
                       num_res_blocks=self.num_res_blocks)
        self.add_optimizer("optimizer", torch.optim.Adam(self.net.parameters(), lr=self.lr))
        # Gram targets per style, stacked: layer -> S×C×C.
        with torch.no_grad():
            grams = {l: [] for l in STYLE_LAYERS}
            for img in style_images:
                x = torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].float().to(self.device) / 255.0
                feats = self.vgg(x, list(STYLE_LAYERS))
                for l in STYLE_LAYERS:
                    grams[l].append(gram_matrix(feats[l])[0])
            self.style_grams = {l: torch.stack(v) for l, v in grams.items()}
        # Fixed preview content: a centre crop of the first content image.
        first = self.dataset.images[0]
        h, w = first.shape[:2]
        y, x = (h - self.size) // 2, (w - self.size) // 2
        self.preview_content = np.ascontiguousarray(first[y:y + self.size, x:x + self.size])

    def extra_config(self) -> dict:
        return {"loss_network": self.vgg.description, "num_styles": self.num_styles,
                "loss": {"content_layer": CONTENT_LAYER, "style_layers": list(STYLE_LAYERS), "vgg": "vgg16",
                         **{f"{k}_weight": v for k, v in self.weights.items()}}}

    def try_resume(self) -> bool:
        """Refuse clearly to resume a run with other styles or another network shape."""
        from ..core.checkpoint import read_config, resolve_checkpoint

        try:
            old = read_config(resolve_checkpoint(self.out_dir))
        except StyleForgeError:
            return super().try_resume()
        if old.get("train", {}).get("styles") not in (None, self.styles):
            raise StyleForgeError(f"--resume: {self.out_dir} was trained with --style {' '.join(old['train']['styles'])}; "
                                  f"got --style {' '.join(self.styles)}")
        old_net = old.get("models", {}).get("net", {}).get("config")
        if old_net is not None and old_net != self.model_specs["net"]["config"]:
            raise StyleForgeError(f"--resume: {self.out_dir} holds a network with {old_net}; "
                                  f"this command asks for {self.model_specs['net']['config']}")
        return super().try_resume()

    def style_indices(self, step: int) -> torch.Tensor:
        """One style index per image of this step's batch (deterministic in (seed, step); this rank's share)."""
        rng = np.random.default_rng([self.seed, step, 7])
        return self.world.shard(torch.from_numpy(rng.integers(0, self.num_styles, self.batch_size)).long())

    def next_batch(self, step: int):
        return (self.dataset.batch(step, self.batch_size, shard=self.world).to(self.device),
                self.style_indices(step).to(self.device))

    def train_step(self, batch, step: int) -> dict[str, float]:
        x, style = batch
        self.optimizer.zero_grad(set_to_none=True)
        y = self.net(x, style)
        xn, yn = x / 255.0, y / 255.0
        fy = self.vgg(yn)
        with torch.no_grad():
            fx = self.vgg(xn, [CONTENT_LAYER])
        c = self.weights["content"] * content_loss(fy[CONTENT_LAYER], fx[CONTENT_LAYER])
        s = self.weights["style"] * style_loss({l: fy[l] for l in STYLE_LAYERS},
                                               {l: self.style_grams[l].index_select(0, style) for l in STYLE_LAYERS})
        tv = self.weights["tv"] * total_variation(yn)
        total = c + s + tv
        total.backward()
        self.optimizer.step()
        return {"content": c.item(), "style": s.item(), "tv": tv.item(), "total": total.item()}

    @torch.no_grad()
    def stylize(self, image: np.ndarray, style_index: int) -> np.ndarray:
        x = torch.from_numpy(image).permute(2, 0, 1)[None].float().to(self.device)
        y = self.net(x, torch.tensor([style_index], device=self.device))
        return y[0].clamp(0, 255).round().byte().permute(1, 2, 0).cpu().numpy()

    def preview(self, step: int) -> np.ndarray:
        """content | stylized with style 0 | style 1 | …"""
        was_training = self.net.training
        self.net.eval()
        tiles = [self.preview_content] + [self.stylize(self.preview_content, k) for k in range(self.num_styles)]
        self.net.train(was_training)
        return make_grid(tiles, ncols=len(tiles))


def train_stylizer(styles, out, **options):
    """Train (or with ``resume=True`` continue) a stylizer; returns the final checkpoint path.

    `styles`: image paths or ``sample:NAME`` (one per style index). Options: the fields of
    :class:`~styleforge.train.stylizer.options.StylizerOptions`.
    """
    if isinstance(styles, (str, bytes)) or not hasattr(styles, "__iter__"):
        styles = [styles]
    return StylizerTrainer(out, styles=list(styles), **options).fit()
