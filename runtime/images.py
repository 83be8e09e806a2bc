"""Image I/O for the runtime (numpy + Pillow only): read anything reasonable as H×W×3 uint8 RGB,
refuse anything unreasonable with one clear line, and write results atomically."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .atomic import atomic_path
from .errors import ImageError, StyleForgeError

#: Largest image we agree to decode (pixels). Larger ones are refused, not swapped to death.
MAX_PIXELS = 64_000_000
#: Smallest side we accept; below this no model has anything to work with.
MIN_SIDE = 8
#: the formats decoded at all (runtime/image_guard.py: PNG, JPEG, WebP, BMP, TIFF, GIF) by their usual suffixes
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif"}


def _grey_uint8(img: Image.Image) -> np.ndarray:
    """A 16-bit, 32-bit integer or float greyscale image → uint8, without float64 temporaries: 16-bit levels
    round to the nearest of 256 in integer arithmetic (x / 257, half up: exact, as 257 is odd), floats in float32."""
    a = np.asarray(img)
    if img.mode.startswith("I;16") or (img.mode == "I" and a.max(initial=0) > 255):
        wide = np.clip(a, 0, 65535).astype(np.uint32) if a.dtype.kind == "i" else a.astype(np.uint32)
        wide += 128
        wide //= 257
        return wide.astype(np.uint8)
    if img.mode == "I":
        return np.clip(a, 0, 255).astype(np.uint8)
    f = a.astype(np.float32)  # float images: assume [0, 1] unless clearly in [0, 255]
    if f.max(initial=0) <= 1.0:
        f *= np.float32(255.0)
    np.rint(f, out=f)
    np.clip(f, 0, 255, out=f)
    return f.astype(np.uint8)


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert every Pillow mode we meet (L, LA, P, RGBA, CMYK, I;16, I, F, 1) to 8-bit RGB."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        img = Image.fromarray(_grey_uint8(img), mode="L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB")


def check_size(w: int, h: int, what: str) -> None:
    """The size rule every input image obeys, file or array: each side at least MIN_SIDE, at most MAX_PIXELS."""
    if w * h > MAX_PIXELS:
        raise ImageError(f"{what}: image is {w}x{h}, over the {MAX_PIXELS:,}-pixel limit")
    if min(w, h) < MIN_SIDE:
        raise ImageError(f"{what}: image is {w}x{h}; each side must be at least {MIN_SIDE} pixels")


def fitted_size(w: int, h: int, max_side: int | None) -> tuple[int, int]:
    """(W, H) after :func:`load_image`'s `max_side` downsizing (aspect kept)."""
    if max_side is None or max(w, h) <= max_side:
        return w, h
    scale = max_side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def load_image(path: str | os.PathLike, *, max_side: int | None = None, check=None) -> np.ndarray:
    """Read an image file as an H×W×3 uint8 RGB array, honouring EXIF orientation.

    Raises ImageError naming the file for: missing, empty, not an accepted format (runtime/image_guard.py: by its
    signature, before Pillow sees it), truncated, absurd dimensions. `max_side` downsizes (aspect kept) so the
    longer side fits. `check(width, height)` (the size after `max_side`) runs on the header alone, before any
    decoding: the command line's work budget (runtime/budget.py) refuses there.
    """
    from .image_guard import open_image

    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: file is empty (0 bytes)")
    try:
        with open_image(path, str(path)) as img:
            check_size(*img.size, str(path))
            if check is not None:
                check(*fitted_size(*img.size, max_side))
            img.load()
            img = ImageOps.exif_transpose(img)
            img = _to_rgb(img)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not a readable image file") from None
    except Image.DecompressionBombError:
        raise ImageError(f"{path}: image dimensions are over the {MAX_PIXELS:,}-pixel limit (refused as a decompression bomb)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{path}: corrupt or truncated image ({e})") from None
    if max_side is not None and max(img.size) > max_side:
        img = img.resize(fitted_size(*img.size, max_side), Image.Resampling.LANCZOS)
    return np.asarray(img, dtype=np.uint8).copy()


def as_rgb_array(image) -> np.ndarray:
    """Accept a PIL image or an array (H×W, H×W×3, H×W×4; uint8 or float in [0,1]) → H×W×3 uint8.

    An input image: the size rule of files applies (:func:`check_size`, before any pixel is converted)."""
    if isinstance(image, Image.Image):
        check_size(*image.size, "image")
    else:
        a = np.asarray(image)
        if a.ndim in (2, 3):
            check_size(a.shape[1], a.shape[0], f"image array of shape {list(a.shape)}")
    return _rgb_array(image)


def _rgb_array(image) -> np.ndarray:
    """:func:`as_rgb_array` without the size rule (for tiles of a contact sheet, which may be tiny)."""
    if isinstance(image, Image.Image):
        return np.asarray(_to_rgb(ImageOps.exif_transpose(image)), dtype=np.uint8).copy()
    a = np.asarray(image)
    if a.dtype != np.uint8:
        if np.issubdtype(a.dtype, np.floating):
            if not np.all(np.isfinite(a)):
                raise ImageError("image array holds NaN or infinite values")
            a = np.clip(np.rint(a * 255.0 if a.max(initial=0) <= 1.0 else a), 0, 255).astype(np.uint8)
        else:
            raise ImageError(f"image array has dtype {a.dtype}; expected uint8 or float")
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ImageError(f"image array has shape {a.shape}; expected H×W, H×W×3 or H×W×4")
    if a.shape[2] == 4:
        a = a[:, :, :3]
    return np.ascontiguousarray(a)


def save_image(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write an H×W×3 (or H×W) uint8 array atomically; the format follows the suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ImageError(f"{path}: unsupported output format {suffix or '(no suffix)'}; use .png or .jpg")
    img = Image.fromarray(np.asarray(array, dtype=np.uint8))
    with atomic_path(path) as tmp:
        img.save(tmp, format=Image.registered_extensions()[suffix], **({"quality": 95} if suffix in (".jpg", ".jpeg") else {}))
    return path


def pad_to_multiple(nchw: np.ndarray, multiple: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Reflect-pad H and W of an N×C×H×W array up to a multiple; returns the array and (H, W) to crop back to."""
    h, w = nchw.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if (ph < h and pw < w) else "edge"
        nchw = np.pad(nchw, ((0, 0), (0, 0), (0, ph), (0, pw)), mode=mode)
    return nchw, (h, w)


def to_nchw_float(images: list[np.ndarray]) -> np.ndarray:
    """Stack H×W×3 uint8 images into float32 N×3×H×W in [0, 255] (the bundles' image convention)."""
    return np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2).astype(np.float32))


def to_hwc_uint8(nchw: np.ndarray) -> list[np.ndarray]:
    """float N×3×H×W in [0, 255] → list of H×W×3 uint8 (rounded, clipped)."""
    a = np.clip(np.rint(nchw), 0, 255).astype(np.uint8)
    return [np.ascontiguousarray(x.transpose(1, 2, 0)) for x in a]


def make_grid(images: list[np.ndarray], ncols: int | None = None, pad: int = 2, fill: int = 255) -> np.ndarray:
    """Tile H×W×3 uint8 images (sizes may differ) into one contact sheet, row-major."""
    if not images:
        raise ImageError("make_grid: no images")
    images = [_rgb_array(i) for i in images]
    n = len(images)
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    ch = max(i.shape[0] for i in images)
    cw = max(i.shape[1] for i in images)
    sheet = np.full((nrows * ch + (nrows + 1) * pad, ncols * cw + (ncols + 1) * pad, 3), fill, np.uint8)
    for k, im in enumerate(images):
        r, c = divmod(k, ncols)
        y, x = pad + r * (ch + pad), pad + c * (cw + pad)
        sheet[y:y + im.shape[0], x:x + im.shape[1]] = im
    return sheet


def list_images(inputs: list[str | os.PathLike]) -> list[Path]:
    """Expand files and folders (non-recursive, sorted) into a list of image paths."""
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES and q.is_file())
            if not found:
                raise ImageError(f"{p}: folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
            out.extend(found)
        else:
            out.append(p)
    return out


def parse_sizes(text, *, flag: str = "--sizes", min_side: int = 8, square: bool = True) -> list[tuple[int, int]]:
    """'256,512' or '256x384,512' → [(256, 256), (256, 384), (512, 512)] (a bare N is N×N when `square`);
    a list of ints or (h, w) pairs passes through. Bad items are refused naming `flag`."""
    if isinstance(text, (list, tuple)):
        return [(int(s), int(s)) if np.ndim(s) == 0 else (int(s[0]), int(s[1])) for s in text]
    out = []
    for item in str(text).split(","):
        item = item.strip().lower()
        if not item:
            continue
        try:
            if "x" not in item and not square:
                raise ValueError
            h, w = item.split("x") if "x" in item else (item, item)
            h, w = int(h), int(w)
        except ValueError:
            example = "256,512 or 256x384" if square else "64x80"
            raise StyleForgeError(f"bad size {item!r} in {flag}; expected e.g. {example}") from None
        if h < min_side or w < min_side:
            raise StyleForgeError(f"{flag}: {item} is too small (at least {min_side})")
        out.append((h, w))
    if not out:
        raise StyleForgeError(f"{flag}: no sizes given")
    return out
