"""Latent-space tools for generator bundles (numpy + the bundle; no torch).

* :func:`interpolate`: linear or spherical interpolation between the latents of seeds;
* :func:`arithmetic`: mean latent of A − mean of B + mean of C (Radford 2015, "smiling woman −
  neutral woman + neutral man");
* :func:`dissect`: rank the channels of a generator layer by the correlation of their activation
  with a mask region over many samples, then regenerate with the top units zeroed or boosted
  (after Bau 2019, GAN dissection). Needs the bundle's ``generate_dissect.LAYER`` graphs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import StyleForgeError
from .images import load_image, make_grid, to_hwc_uint8


def _tiles(raw: np.ndarray, min_side: int = 64) -> list[np.ndarray]:
    tiles = to_hwc_uint8(raw)
    rep = max(1, min_side // tiles[0].shape[0])
    return [t.repeat(rep, 0).repeat(rep, 1) for t in tiles]


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    na, nb = a / np.linalg.norm(a), b / np.linalg.norm(b)
    omega = np.arccos(np.clip(np.dot(na, nb), -1.0, 1.0))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def interpolation_latents(z: np.ndarray, steps: int, spherical: bool = False) -> np.ndarray:
    """Frames along the path z[0] → z[1] → … with `steps` frames per segment (ends included)."""
    if len(z) < 2:
        raise StyleForgeError("--seeds: give at least two seeds, e.g. --seeds 1,2")
    if steps < 2:
        raise StyleForgeError(f"--steps must be at least 2, got {steps}")
    out = []
    for i in range(len(z) - 1):
        for k, t in enumerate(np.linspace(0, 1, steps)):
            if i and k == 0:
                continue
            out.append(slerp(z[i], z[i + 1], t) if spherical else (1 - t) * z[i] + t * z[i + 1])
    return np.stack(out).astype(np.float32)


def interpolate(model, seeds, steps: int = 8, spherical: bool = False, label=None) -> np.ndarray:
    """A one-row strip (H×W×3 uint8) of the interpolation between the seeds' latents."""
    zs = interpolation_latents(model.latents(seeds), steps, spherical)
    return make_grid(_tiles(model.generate_raw(zs, label)), ncols=len(zs), pad=2)


def arithmetic_latent(za: np.ndarray, zb: np.ndarray, zc: np.ndarray) -> np.ndarray:
    return (za.mean(0) - zb.mean(0) + zc.mean(0)).astype(np.float32)


def arithmetic(model, a, b, c, label=None, variations: int = 7, jitter: float = 0.25, seed: int = 0) -> tuple[np.ndarray, dict]:
    """Grid: rows A, B, C (their samples, then the image of their mean latent, boxed by a gap),
    last row: the result A − B + C and `variations` copies with uniform ±jitter noise added."""
    for name, s in (("a", a), ("b", b), ("c", c)):
        if not s:
            raise StyleForgeError(f"--{name}: give at least one seed")
    za, zb, zc = model.latents(a), model.latents(b), model.latents(c)
    r = arithmetic_latent(za, zb, zc)
    rng = np.random.default_rng(seed)
    rz = np.concatenate([r[None], r[None] + rng.uniform(-jitter, jitter, (variations, model.nz)).astype(np.float32)])
    width = max(len(a), len(b), len(c)) + 1
    width = max(width, len(rz))
    rows = []
    for z in (za, zb, zc):
        zz = np.concatenate([z, z.mean(0, keepdims=True)])
        t = _tiles(model.generate_raw(zz, label))
        blank = np.full_like(t[0], 255)
        rows += t[:-1] + [blank] * (width - len(t)) + [t[-1]]
    rows += _tiles(model.generate_raw(rz, label))
    rows += [np.full_like(rows[0], 255)] * (4 * width - len(rows))
    return make_grid(rows, ncols=width, pad=2), {"result_latent_norm": float(np.linalg.norm(r))}


def load_mask(path: str | Path, side: int) -> np.ndarray:
    """A mask image (white = region) as a boolean side×side array."""
    from PIL import Image

    m = load_image(path).astype(np.float32).mean(axis=2)
    m = np.asarray(Image.fromarray(m).resize((side, side), Image.Resampling.BOX))
    mask = m > 127.5
    if not mask.any() or mask.all():
        raise StyleForgeError(f"--mask {path}: the mask must mark a region (white) and leave some of the image black")
    return mask


def unit_scores(acts: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pearson correlation of each channel's activation with the mask indicator, over samples and positions."""
    n, c, s, _ = acts.shape
    a = acts.transpose(1, 0, 2, 3).reshape(c, -1).astype(np.float64)
    m = np.broadcast_to(mask, (n, s, s)).reshape(-1).astype(np.float64)
    a = a - a.mean(1, keepdims=True)
    m = m - m.mean()
    denom = np.sqrt((a * a).sum(1) * (m * m).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a @ m) / denom
    return np.nan_to_num(r, nan=0.0)


def dissect(model, layer: str, mask_path, samples: int = 200, top: int = 10, boost: float | None = None,
            out_dir: str | Path | None = None, show: int = 8, label=None, seed: int = 0) -> dict:
    """Rank units of `layer` by correlation with the mask; regenerate `show` samples with the top
    units zeroed (``boost=None``) or multiplied by `boost`. Writes before_after.png, units.json,
    units.png (mean activation maps of the top units) and mask.png into `out_dir`."""
    import json

    from .atomic import write_text
    from .images import save_image

    info = model.layer(layer)
    mask = load_mask(mask_path, info.side)
    z = model.sample_latents(samples, seed)
    _, acts = model.generate_dissect(z, layer, None, label)
    scores = unit_scores(acts, mask)
    top = max(1, min(top, len(scores)))
    order = np.argsort(-scores)[:top]
    scale = np.ones(info.channels, np.float32)
    scale[order] = 0.0 if boost is None else float(boost)
    zs = z[:show]
    lab = None if label is None else label
    before, _ = model.generate_dissect(zs, layer, None, lab)
    after, _ = model.generate_dissect(zs, layer, scale, lab)
    res = before.shape[-1]
    from PIL import Image

    big = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((res, res), Image.Resampling.NEAREST)) > 0
    diff = np.abs(after - before).mean(1)  # N×R×R
    inside, outside = float(diff[:, big].mean()), float(diff[:, ~big].mean())
    report = {"layer": layer, "channels": info.channels, "side": info.side, "samples": samples,
              "mode": "ablate" if boost is None else f"boost x{boost}",
              "top_units": [{"unit": int(u), "correlation": float(scores[u])} for u in order],
              "mean_abs_change_inside_mask": inside, "mean_abs_change_outside_mask": outside}
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        grid = make_grid(_tiles(before) + _tiles(after), ncols=len(zs), pad=2)
        save_image(out / "before_after.png", grid)
        heat = acts[:, order].mean(0)
        heat = (heat - heat.min(axis=(1, 2), keepdims=True)) / (np.ptp(heat, axis=(1, 2), keepdims=True) + 1e-8)
        hm = [np.repeat((h * 255).astype(np.uint8)[..., None], 3, 2).repeat(max(1, 64 // info.side), 0)
              .repeat(max(1, 64 // info.side), 1) for h in heat]
        save_image(out / "units.png", make_grid(hm, ncols=len(hm), pad=2))
        save_image(out / "mask.png", np.repeat((big * 255).astype(np.uint8)[..., None], 3, 2))
        write_text(out / "units.json", json.dumps(report, indent=2) + "\n")
    return report
