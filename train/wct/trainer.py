"""Training of the WCT decoders: reconstruct the image from its relu{L}_1 features (encoder frozen).

Loss = ‖D(E(x)) − x‖² (pixels, [0, 1]) + feature_weight · ‖E(D(E(x))) − E(x)‖² (Li et al. 2017).
Each level is its own run ``OUT/level{L}`` (checkpoints, previews, resume from train/core/trainer.py);
a folder holding such runs is what ``styleforge export`` turns into one WCT bundle
(:func:`is_wct_dir`, declared in export/wct/__init__.py).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...runtime.errors import StyleForgeError
from ..core.trainer import Trainer
from .options import WCTDecoderOptions

METHOD = "wct-decoder"


def _vgg_weights(o: WCTDecoderOptions) -> str | None:
    """--vgg-weights as recorded: a published name stays a name (resolved in torch.hub's cache wherever the decoders
    are used), a file becomes an absolute path."""
    from ..core.weights import is_published_name

    if is_published_name(o.vgg_weights):
        return o.vgg_weights
    return str(Path(o.vgg_weights).resolve()) if o.vgg_weights else None


class WCTDecoderTrainer(Trainer):
    family = interface = "wct"
    method = METHOD
    Options = WCTDecoderOptions
    batch_option = "batch_size"

    def check_options(self, o: WCTDecoderOptions) -> None:
        if o.level not in (1, 2, 3, 4, 5):
            raise StyleForgeError(f"--level must be 1..5, got {o.level}")
        if not 0 < o.width_mult <= 1:
            raise StyleForgeError(f"--width-mult must be in (0, 1], got {o.width_mult}")
        mult = 2 ** (o.level - 1)
        if o.size % mult:
            raise StyleForgeError(f"--size {o.size}: level {o.level} needs a multiple of {mult}")

    def derive_options(self, o: WCTDecoderOptions) -> dict:
        """Records the VGG weights as a name or an absolute path and the content folder as a string; leaves out
        the seed and the checkpoint and preview intervals."""
        opts = super().derive_options(o)
        opts.update(vgg_weights=_vgg_weights(o), content_dir=str(o.content_dir) if o.content_dir else None)
        for k in ("seed", "checkpoint_every", "preview_every"):
            opts.pop(k, None)
        return opts

    @classmethod
    def run_dir(cls, out, options) -> Path:
        """Each level is its own run: OUT/level{L}."""
        level = options.get("level") if isinstance(options, dict) else options.level
        return Path(out) / f"level{level}"

    def report(self, checkpoint) -> str:
        last = self.history[-1] if self.history else {}
        return f"wrote {checkpoint}" + (f" (pixel {last['pixel']:.4g}, feature {last['feature']:.4g})" if last else "")

    def build(self) -> None:
        import torch

        from ..core.data import CropDataset
        from .models import WCTEncoder

        o = self.options
        self.level, self.size, self.batch_size, self.lr = o.level, o.size, o.batch_size, o.lr
        self.feature_weight, self.width_mult, self.photo = o.feature_weight, o.width_mult, o.photo
        self.vgg_weights, self.content_dir = _vgg_weights(o), o.content_dir

        self.encoder = WCTEncoder(self.level, weights=self.vgg_weights).to(self.device)
        self.add_model("decoder", "wct_decoder", level=self.level, width_mult=self.width_mult, photo=self.photo)
        self.add_optimizer("opt", torch.optim.Adam(self.decoder.parameters(), lr=self.lr))
        self.data = CropDataset.from_source(self.content_dir, self.size, seed=self.seed)
        self._preview_batch = self.data.batch(10**6, 1).to(self.device) / 255.0

    def extra_config(self) -> dict:
        return {"loss_network": self.encoder.description, "wct": {"level": self.level, "photo": self.photo,
                                                                  "vgg_weights": self.vgg_weights}}

    def next_batch(self, step: int):
        return self.data.batch(step, self.batch_size, shard=self.world).to(self.device) / 255.0

    def _reconstruct(self, x):
        if self.photo:
            f, sw = self.encoder(x, self.level, photo=True)
            return f, self.decoder(f, sw)
        f = self.encoder(x, self.level)
        return f, self.decoder(f)

    def train_step(self, batch, step: int) -> dict[str, float]:
        import torch.nn.functional as F

        import torch

        with torch.no_grad():
            target, sw = self.encoder(batch, self.level, photo=True) if self.photo else (self.encoder(batch, self.level), None)
        recon = self.decoder(target, sw)
        pixel = F.mse_loss(recon, batch)
        feat = F.mse_loss(self.encoder(recon, self.level), target) if self.feature_weight else recon.new_zeros(())
        total = pixel + self.feature_weight * feat
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        self.opt.step()
        return {"pixel": pixel.item(), "feature": feat.item(), "total": total.item()}

    def preview(self, step: int) -> np.ndarray | None:
        import torch

        from ...runtime.images import make_grid, to_hwc_uint8

        self.decoder.eval()
        with torch.no_grad():
            _, recon = self._reconstruct(self._preview_batch)
        self.decoder.train()
        imgs = to_hwc_uint8(torch.cat([self._preview_batch, recon.clamp(0, 1)]).cpu().numpy() * 255.0)
        return make_grid(imgs, ncols=2)


# ---------------------------------------------------------------------------------------------
# WCT folders (several level runs) → one model
# ---------------------------------------------------------------------------------------------

def _run_config(run: Path) -> dict | None:
    from ..core.checkpoint import read_config, resolve_checkpoint

    try:
        cfg = read_config(resolve_checkpoint(run))
    except StyleForgeError:
        return None
    return cfg if cfg.get("method") == METHOD else None


def find_level_runs(path: str | Path) -> dict[int, Path]:
    """{level: run folder} for a WCT folder (level runs as subfolders) or a single level run."""
    path = Path(path)
    if not path.is_dir():
        return {}
    runs: dict[int, Path] = {}
    candidates = [path] + sorted(p for p in path.iterdir() if p.is_dir())
    for run in candidates:
        if not ((run / "checkpoints" / "LATEST").is_file() or (run / "config.json").is_file()):
            continue
        cfg = _run_config(run)
        if cfg is None:
            continue
        level = int(cfg["wct"]["level"])
        if level in runs and run != path:
            raise StyleForgeError(f"{path}: two runs for level {level} ({runs[level].name}, {run.name}); keep one")
        runs.setdefault(level, run)
    return runs


def is_wct_dir(path: Path) -> bool:
    """The export hook (export/wct/__init__.py): a folder of wct-decoder runs, or one such run."""
    try:
        return bool(find_level_runs(path))
    except StyleForgeError:
        raise
    except Exception:
        return False


def load_wct_dir(path: str | Path):
    """(encoder, {level: decoder}, info) from a WCT folder; all decoders must agree on photo and VGG weights."""
    from ..core.checkpoint import load_modules, resolve_checkpoint
    from .models import WCTEncoder

    runs = find_level_runs(path)
    if not runs:
        raise StyleForgeError(f"{path}: no wct-decoder runs (expected LEVEL subfolders written by `styleforge train wct-decoder`)")
    decoders, photos, weights, steps = {}, set(), set(), {}
    for level, run in sorted(runs.items()):
        ckpt = resolve_checkpoint(run)
        modules, cfg = load_modules(ckpt)
        decoders[level] = modules["decoder"]
        photos.add(bool(cfg["wct"]["photo"]))
        weights.add(cfg["wct"].get("vgg_weights"))
        steps[level] = int(cfg.get("step", 0))
    if len(photos) > 1:
        raise StyleForgeError(f"{path}: mixes PhotoWCT (--photo) and plain WCT decoders; export them separately")
    if len(weights) > 1:
        raise StyleForgeError(f"{path}: decoders were trained against different --vgg-weights ({', '.join(map(str, weights))})")
    vgg = weights.pop()
    from ..core.weights import is_published_name

    if vgg and not is_published_name(vgg) and not Path(vgg).is_file():
        raise StyleForgeError(f"{path}: decoders were trained with --vgg-weights {vgg}, which is no longer there")
    encoder = WCTEncoder(max(decoders), weights=vgg, warn=False)
    info = {"levels": sorted(decoders), "photo": photos.pop(), "vgg_weights": vgg, "steps": steps,
            "loss_network": encoder.description, "runs": {str(k): str(v) for k, v in runs.items()}}
    return encoder, decoders, info


def describe_training(path: str | Path) -> str:
    runs = find_level_runs(path)
    parts = []
    for level, run in sorted(runs.items()):
        cfg = _run_config(run)
        t = cfg.get("train", {})
        parts.append(f"L{level}: {cfg.get('step')} steps, {t.get('size')}px, batch {t.get('batch_size')}, width×{t.get('width_mult')}")
    return "; ".join(parts)


__all__ = ["WCTDecoderTrainer", "is_wct_dir", "find_level_runs", "load_wct_dir", "describe_training"]
