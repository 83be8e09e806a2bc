"""``styleforge color-transfer``: Reinhard colour transfer on the runtime side (numpy + Pillow, no torch)."""
from __future__ import annotations

import json


def register(cli) -> None:
    p = cli.command("color-transfer",
                    help="give CONTENT the colours of --style: match mean and std of each Lab channel (Reinhard 2001); no torch")
    p.add_argument("content", help="content image file (or sample:NAME when the training extras are installed)")
    p.add_argument("--style", required=True, help="image whose colour statistics to take")
    p.add_argument("--out", required=True, help="output image (.png/.jpg)")
    p.add_argument("--max-side", type=int, default=None, help="downsize the content so its long side fits (default: keep)")
    p.set_defaults(func=run_color_transfer)


def _load(spec: str, max_side=None):
    from ..errors import StyleForgeError
    from ..images import load_image

    if spec.startswith("sample:"):
        try:
            from styleforge.train.core.samples import resolve_image
        except ImportError as e:  # pragma: no cover - training extras missing
            raise StyleForgeError(f"{spec}: sample images need the training extras ({e})") from None
        return resolve_image(spec, max_side=max_side)
    return load_image(spec, max_side=max_side)


def run_color_transfer(args) -> int:
    from pathlib import Path

    from ..color_transfer import lab_stats, reinhard_transfer
    from ..errors import StyleForgeError
    from ..images import IMAGE_SUFFIXES, save_image

    if Path(args.out).suffix.lower() not in IMAGE_SUFFIXES:
        raise StyleForgeError(f"--out {args.out}: unsupported output format {Path(args.out).suffix or '(no suffix)'}; use .png or .jpg")
    if args.max_side is not None and args.max_side < 8:
        raise StyleForgeError(f"--max-side must be at least 8, got {args.max_side}")
    content = _load(args.content, args.max_side)
    style = _load(args.style)
    out = reinhard_transfer(content, style)
    save_image(args.out, out)
    ms, ss = lab_stats(style / 255.0)
    mo, so = lab_stats(out / 255.0)
    print(json.dumps({"out": str(args.out), "style_lab_mean": [round(v, 3) for v in ms], "style_lab_std": [round(v, 3) for v in ss],
                      "out_lab_mean": [round(v, 3) for v in mo], "out_lab_std": [round(v, 3) for v in so]}))
    return 0
