"""A synthetic, aligned face dataset with visible attributes, for deep feature interpolation (DFI).

The repository ships no face photographs, so ``styleforge optimize dfi`` defaults to this:
cartoon faces drawn with Pillow (drawn at 4× and downsampled, so edges are anti-aliased),
aligned (eyes, nose and mouth at nearly fixed positions, ±2 % jitter), varying in skin tone,
hair colour and shape, face shape, eye spacing, background; three binary attributes drawn
independently with probability ½:

- ``glasses``: dark round frames around both eyes and a bridge between them;
- ``moustache``: a dark band between nose and mouth;
- ``smiling``: a curved mouth instead of a straight one.

Everything is deterministic in ``seed``. :func:`write_dataset` stores PNG files and the
attributes CSV that ``optimize dfi --dataset DIR --attributes CSV`` reads:

    file,glasses,moustache,smiling
    face_0000.png,1,0,0
    ...

``file`` is a path relative to the CSV's folder; attribute values are ``1`` (has it) or ``0``
(lacks it); ``-1``, ``true/false`` and ``yes/no`` are accepted too (CelebA writes ``-1``).

:func:`attribute_probe` measures the attributes on an image (mean darkness of the region each
one paints), for tests and for judging a DFI result.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ...runtime.errors import StyleForgeError

ATTRIBUTES = ("glasses", "moustache", "smiling")
#: Regions (fractions of the side: x0, y0, x1, y1) the probes read.
GLASSES_REGION = (0.22, 0.36, 0.78, 0.52)
MOUSTACHE_REGION = (0.38, 0.62, 0.62, 0.69)
#: Bare skin (a cheek) the probes compare against, so skin tone cancels out.
CHEEK_REGION = (0.24, 0.58, 0.33, 0.66)
DEFAULT_COUNT = 96
DEFAULT_SEED = 0
#: Seed of the held-out face (without any attribute) ``dfi`` uses when no --image is given.
PROBE_SEED = 10_001

_SKIN = [(241, 194, 167), (224, 172, 105), (198, 134, 66), (141, 85, 36), (255, 219, 172), (233, 180, 150)]
_HAIR = [(35, 25, 20), (90, 56, 37), (160, 120, 60), (200, 170, 100), (120, 120, 120), (150, 50, 30)]
_BG = [(200, 220, 240), (220, 235, 210), (240, 225, 200), (225, 210, 235), (210, 210, 210)]


def draw_face(size: int = 64, *, glasses: bool = False, moustache: bool = False, smiling: bool = False,
              seed: int = 0) -> np.ndarray:
    """One face as H×W×3 uint8; the look (not the attributes) varies with ``seed``."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    s = size * 4
    u = s / 100.0  # drawing unit: 1 % of the side
    img = Image.new("RGB", (s, s), _BG[rng.integers(len(_BG))])
    d = ImageDraw.Draw(img)
    skin = tuple(int(c) for c in np.clip(np.array(_SKIN[rng.integers(len(_SKIN))]) + rng.normal(0, 8, 3), 0, 255))
    hair = _HAIR[rng.integers(len(_HAIR))]
    dx, dy = rng.uniform(-2, 2, 2)
    fw, fh = rng.uniform(29, 35), rng.uniform(38, 43)
    cx, cy = 50 + dx, 52 + dy
    # hair (behind the face), neck, head
    d.ellipse([(cx - fw - 3) * u, (cy - fh - 4) * u, (cx + fw + 3) * u, (cy + fh * 0.4) * u], fill=hair)
    d.rectangle([(cx - 10) * u, (cy + fh * 0.7) * u, (cx + 10) * u, 100 * u], fill=skin)
    d.ellipse([(cx - fw) * u, (cy - fh) * u, (cx + fw) * u, (cy + fh) * u], fill=skin)
    fringe = rng.uniform(14, 22)
    d.chord([(cx - fw) * u, (cy - fh) * u, (cx + fw) * u, (cy - fh + 2 * fringe) * u], 180, 360, fill=hair)
    # eyes
    ex, ey = rng.uniform(13, 16), cy - rng.uniform(6, 8)
    for sx in (-1, 1):
        x = cx + sx * ex
        d.ellipse([(x - 5) * u, (ey - 3) * u, (x + 5) * u, (ey + 3) * u], fill=(250, 250, 250))
        d.ellipse([(x - 2.2) * u, (ey - 2.2) * u, (x + 2.2) * u, (ey + 2.2) * u], fill=(40, 40, 60))
        d.line([(x - 6) * u, (ey - 7) * u, (x + 6) * u, (ey - 8) * u], fill=hair, width=int(1.6 * u))
    # nose
    shade = tuple(int(c * 0.8) for c in skin)
    d.line([(cx) * u, (ey + 3) * u, (cx - 2) * u, (cy + 10) * u, (cx + 2) * u, (cy + 10) * u], fill=shade, width=int(1.2 * u))
    # mouth
    my, mw = cy + 21, rng.uniform(8, 11)
    lip = (150, 60, 60)
    if smiling:
        d.arc([(cx - mw) * u, (my - 7) * u, (cx + mw) * u, (my + 4) * u], 20, 160, fill=lip, width=int(2 * u))
    else:
        d.line([(cx - mw) * u, my * u, (cx + mw) * u, my * u], fill=lip, width=int(2 * u))
    if moustache:
        d.polygon([((cx - 11) * u, (cy + 18) * u), ((cx - 3) * u, (cy + 13) * u), (cx * u, (cy + 14) * u),
                   ((cx + 3) * u, (cy + 13) * u), ((cx + 11) * u, (cy + 18) * u), (cx * u, (cy + 16.5) * u)],
                  fill=(30, 22, 18))
    if glasses:
        frame = (15, 15, 20)
        for sx in (-1, 1):
            x = cx + sx * ex
            d.ellipse([(x - 8) * u, (ey - 7) * u, (x + 8) * u, (ey + 7) * u], outline=frame, width=int(2 * u))
        d.line([(cx - ex + 8) * u, ey * u, (cx + ex - 8) * u, ey * u], fill=frame, width=int(2 * u))
    return np.asarray(img.resize((size, size), Image.Resampling.LANCZOS))


def make_dataset(n: int = DEFAULT_COUNT, size: int = 64, seed: int = DEFAULT_SEED) -> tuple[list[np.ndarray], list[dict]]:
    """``n`` faces and their attributes (dicts of 0/1), deterministic in ``seed``."""
    if n < 2:
        raise StyleForgeError(f"synthetic dataset: need at least 2 faces, got {n}")
    rng = np.random.default_rng(seed)
    images, attrs = [], []
    for i in range(n):
        a = {name: int(rng.random() < 0.5) for name in ATTRIBUTES}
        images.append(draw_face(size, seed=int(rng.integers(1 << 31)), **{k: bool(v) for k, v in a.items()}))
        attrs.append(a)
    return images, attrs


def probe_face(size: int = 64, **attributes) -> np.ndarray:
    """The held-out face DFI uses by default (not in any dataset made with the default seed)."""
    return draw_face(size, seed=PROBE_SEED, **attributes)


def write_dataset(out_dir: str | Path, n: int = DEFAULT_COUNT, size: int = 64, seed: int = DEFAULT_SEED) -> Path:
    """Write the faces as PNG files and ``attributes.csv`` into ``out_dir``; returns the CSV's path."""
    from ...runtime.atomic import write_text
    from ...runtime.images import save_image

    out = Path(out_dir)
    images, attrs = make_dataset(n, size, seed)
    rows = ["file," + ",".join(ATTRIBUTES)]
    for i, (img, a) in enumerate(zip(images, attrs)):
        name = f"face_{i:04d}.png"
        save_image(out / name, img)
        rows.append(name + "," + ",".join(str(a[k]) for k in ATTRIBUTES))
    write_text(out / "attributes.csv", "\n".join(rows) + "\n")
    return out / "attributes.csv"


_TRUE = {"1", "true", "yes", "y"}
_FALSE = {"0", "-1", "false", "no", "n"}


def read_attributes(csv_path: str | Path, attribute: str, root: str | Path | None = None) -> tuple[list[Path], list[int]]:
    """Read an attributes CSV: (image paths, 0/1 labels for ``attribute``); clear errors for bad files."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise StyleForgeError(f"{csv_path}: no such attributes CSV")
    root = Path(root) if root else csv_path.parent
    with open(csv_path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        if "file" not in cols:
            raise StyleForgeError(f"{csv_path}: the first row must name the columns, including 'file' (found {', '.join(cols) or 'nothing'})")
        if attribute not in cols:
            names = [c for c in cols if c != "file"]
            raise StyleForgeError(f"{csv_path}: no attribute column {attribute!r}; columns: {', '.join(names) or '(none)'}")
        paths, labels = [], []
        for line, row in enumerate(reader, start=2):
            v = (row.get(attribute) or "").strip().lower()
            if v in _TRUE:
                labels.append(1)
            elif v in _FALSE:
                labels.append(0)
            else:
                raise StyleForgeError(f"{csv_path}:{line}: {attribute}={row.get(attribute)!r}; expected 1/0 (or -1, true/false, yes/no)")
            p = Path(row["file"])
            paths.append(p if p.is_absolute() else root / p)
    if not paths:
        raise StyleForgeError(f"{csv_path}: no rows")
    return paths, labels


def _region(img: np.ndarray, box) -> np.ndarray:
    h, w = img.shape[:2]
    x0, y0, x1, y1 = box
    return img[int(y0 * h):int(np.ceil(y1 * h)), int(x0 * w):int(np.ceil(x1 * w))]


def attribute_probe(img: np.ndarray, attribute: str) -> float:
    """A simple measure of an attribute on an aligned face: how much darker its region is than bare skin.

    (mean luma of a cheek − mean luma of the region) / 255. ``glasses``: the band holding both
    eyes and the frames; ``moustache``: the band between nose and mouth. Higher means more of
    the attribute.
    """
    boxes = {"glasses": GLASSES_REGION, "moustache": MOUSTACHE_REGION}
    if attribute not in boxes:
        raise StyleForgeError(f"attribute_probe: no probe for {attribute!r}; choose {', '.join(boxes)}")
    img = np.asarray(img, np.float64)
    w = np.array([0.299, 0.587, 0.114])
    region = (_region(img, boxes[attribute]) @ w).mean()
    cheek = (_region(img, CHEEK_REGION) @ w).mean()
    return float((cheek - region) / 255.0)


def main(argv=None) -> int:
    """``python -m styleforge.train.optimize.faces DIR [--count N] [--size S] [--seed K]``."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m styleforge.train.optimize.faces", description=main.__doc__)
    p.add_argument("out_dir")
    p.add_argument("--count", type=int, default=DEFAULT_COUNT)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    a = p.parse_args(argv)
    print(write_dataset(a.out_dir, a.count, a.size, a.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
