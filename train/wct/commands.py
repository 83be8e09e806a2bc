"""`styleforge train wct-decoder`: train the decoder of one WCT level (or PhotoWCT with --photo)."""
from __future__ import annotations

import argparse


def register(cli) -> None:
    p = cli.command("wct-decoder", group="train",
                    help="train the WCT decoder of one level (relu{L}_1 → image); runs land in OUT/level{L}")
    p.add_argument("--level", type=int, required=True, choices=[1, 2, 3, 4, 5], help="encoder tap relu{L}_1")
    p.add_argument("--out", required=True, help="WCT folder shared by all levels (this level goes to OUT/level{L})")
    p.add_argument("--content-dir", default=None, help="folder of training photos (default: the bundled photos)")
    p.add_argument("--steps", type=int, default=2000, help="optimisation steps")
    p.add_argument("--size", type=int, default=256, help="crop size in pixels (a multiple of 2^(L-1))")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--feature-weight", type=float, default=1.0, help="weight of the feature reconstruction loss")
    p.add_argument("--width-mult", type=float, default=1.0, help="decoder width multiplier (≤ 1; the encoder stays VGG19)")
    p.add_argument("--photo", action="store_true", help="PhotoWCT: unpooling with the encoder's max-pool switches")
    p.add_argument("--vgg-weights", default=None, help="VGG19 weights file (torchvision layout or safetensors); "
                                                       "default: fixed-seed random weights, random(seed=0)")
    p.add_argument("--resume", action="store_true", help="continue the run in OUT/level{L} from its latest checkpoint")
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu | cuda")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ...runtime.errors import StyleForgeError
    from ..wct_trainer import WCTDecoderTrainer

    if not 0 < args.width_mult <= 1:
        raise StyleForgeError(f"--width-mult must be in (0, 1], got {args.width_mult}")
    out = Path(args.out) / f"level{args.level}"
    trainer = WCTDecoderTrainer(out, level=args.level, size=args.size, batch_size=args.batch_size, lr=args.lr,
                                feature_weight=args.feature_weight, width_mult=args.width_mult, photo=args.photo,
                                vgg_weights=args.vgg_weights, content_dir=args.content_dir, steps=args.steps,
                                seed=args.seed, checkpoint_every=args.checkpoint_every, resume=args.resume,
                                device=args.device, progress=not args.no_progress)
    ckpt = trainer.fit()
    last = trainer.history[-1] if trainer.history else {}
    print(f"wrote {ckpt}" + (f" (pixel {last['pixel']:.4g}, feature {last['feature']:.4g})" if last else ""))
    return 0
