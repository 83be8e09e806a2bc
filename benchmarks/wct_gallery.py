"""Build docs/gallery/wct/ from trained WCT folders (see docs/wct.md, "Gallery").

    python benchmarks/wct_gallery.py --wct runs/wct --bundle wct.sfbundle \
        --photo runs/photowct --photo-bundle photowct.sfbundle --out docs/gallery/wct

Stylisation, the alpha sweep, the texture and the PhotoWCT results are run by the exported
bundles on ONNX Runtime (the runtime a user gets); the per-level columns of the multi-level
figure use the PyTorch pipeline with subsets of the decoders (the bundle always runs all levels).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def _resize(img, side):
    from PIL import Image

    h, w = img.shape[:2]
    s = side / max(h, w)
    nh, nw = max(16, round(h * s / 16) * 16), max(16, round(w * s / 16) * 16)
    return np.asarray(Image.fromarray(img).resize((nw, nh), Image.Resampling.LANCZOS))


def _label(img, text):
    from PIL import Image, ImageDraw

    im = Image.fromarray(img).copy()
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, 7 * len(text) + 6, 14], fill=(0, 0, 0))
    d.text((3, 2), text, fill=(255, 255, 255))
    return np.asarray(im)


def main() -> None:
    import torch

    from styleforge.runtime import load
    from styleforge.runtime.images import make_grid, save_image
    from styleforge.runtime.guided_filter import smooth_fast
    from styleforge.train.wct.matting_smooth import smooth_exact
    from styleforge.train.core.samples import sample_image
    from styleforge.train.wct.pipeline import WCTPipeline
    from styleforge.train.wct.trainer import load_wct_dir

    ap = argparse.ArgumentParser()
    ap.add_argument("--wct", required=True)
    ap.add_argument("--bundle", required=True, help="bundle for the ONNX figures")
    ap.add_argument("--full-bundle", help="optional second bundle (e.g. all 5 levels) shown as the last multi-level column")
    ap.add_argument("--photo")
    ap.add_argument("--photo-bundle")
    ap.add_argument("--out", default="docs/gallery/wct")
    ap.add_argument("--side", type=int, default=256)
    a = ap.parse_args()
    out = Path(a.out)
    t0 = time.time()
    model = load(a.bundle, backend="ort-cpu")
    contents = {n: _resize(sample_image(n), a.side) for n in ("astronaut", "chelsea", "coffee")}
    styles = {n: _resize(sample_image(n), a.side) for n in ("mosaic", "waves", "brick")}

    # 1. multi-level: content, style, relu1 only, relu3→1, relu5→1 (all levels, the bundle)
    encoder, decoders, info = load_wct_dir(a.wct)
    rows = []
    for cname, sname in (("astronaut", "mosaic"), ("chelsea", "waves")):
        c, s = contents[cname], styles[sname]
        row = [_label(c, cname), _label(_resize(s, a.side), sname)]
        tc = torch.from_numpy(c.copy()).permute(2, 0, 1)[None].float() / 255
        ts = torch.from_numpy(s.copy()).permute(2, 0, 1)[None].float() / 255
        for top in (1, 2):
            pipe = WCTPipeline(encoder, {l: d for l, d in decoders.items() if l <= top}, mode="exact").eval()
            with torch.no_grad():
                y = pipe(tc, ts, 1.0)[0].permute(1, 2, 0).numpy() * 255
            row.append(_label(np.clip(np.rint(y), 0, 255).astype(np.uint8), f"relu{top}_1 to 1 (exact)"))
        levels = model.config.levels
        row.append(_label(model(c, style=s, alpha=1.0), f"relu{max(levels)}_1 to 1 (ONNX NS)"))
        if a.full_bundle:
            full = load(a.full_bundle, backend="ort-cpu")
            row.append(_label(full(c, style=s, alpha=1.0), f"relu{max(full.config.levels)}_1 to 1 (ONNX NS)"))
        rows += row
    save_image(out / "multilevel.jpg", make_grid(rows, ncols=len(row)))

    # 2. alpha sweep
    c, s = contents["coffee"], styles["mosaic"]
    sweep = [_label(c, "content")] + [_label(model(c, style=s, alpha=al), f"alpha {al}") for al in (0.25, 0.5, 0.75, 1.0)]
    save_image(out / "alpha_sweep.jpg", make_grid(sweep, ncols=5))

    # 3. texture from noise
    tex = []
    for sname in ("mosaic", "waves", "brick"):
        tex += [_label(styles[sname], sname), _label(model.texture(styles[sname], size=a.side, passes=3), "texture")]
    save_image(out / "texture.jpg", make_grid(tex, ncols=6))

    # 4. PhotoWCT before/after smoothing
    if a.photo_bundle:
        pm = load(a.photo_bundle, backend="ort-cpu")
        side = 128
        pairs = (("coffee", "chelsea"), ("astronaut", "coffee"))
        imgs = []
        for cname, sname in pairs:
            c, s = _resize(sample_image(cname), side), _resize(sample_image(sname), side)
            raw = pm(c, style=s, alpha=1.0)
            imgs += [_label(c, cname), _label(s, sname), _label(raw, "PhotoWCT"),
                     _label(smooth_fast(raw, c), "+ fast (guided)"), _label(smooth_exact(raw, c), "+ exact (matting)")]
        save_image(out / "photowct_smoothing.jpg", make_grid(imgs, ncols=5))
    print(f"gallery written to {out} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
