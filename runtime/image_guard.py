"""Which files are decoded as images at all: PNG, JPEG, WebP, BMP, TIFF and GIF (first frame), recognised by their
signature and opened by Pillow's plugin for that one format — never another of Pillow's readers (EPS would start
Ghostscript; PSD, FITS, SGI… are attack surface nobody asked for). The server's uploads and the command line's
files go through :func:`open_image` (numpy-free, torch-free): it reads the header only, so the caller can check the
size against its budget (runtime/budget.py) before a pixel is decoded."""
from __future__ import annotations

import io
import os
from pathlib import Path

from .errors import ImageError

#: format name (Pillow's) → what its files start with; RIFF files must also say WEBP at byte 8
SIGNATURES = {
    "PNG": (b"\x89PNG\r\n\x1a\n",),
    "JPEG": (b"\xff\xd8\xff",),
    "GIF": (b"GIF87a", b"GIF89a"),
    "BMP": (b"BM",),
    "TIFF": (b"II*\x00", b"MM\x00*"),
    "WEBP": (b"RIFF",),
}
ALLOWED = tuple(SIGNATURES)
#: the list a refusal prints
ALLOWED_TEXT = "PNG, JPEG, WebP, BMP, TIFF, GIF"


def sniff(head: bytes) -> str | None:
    """The allowed format whose signature `head` (the first 16 bytes or more) starts with, else None."""
    for fmt, prefixes in SIGNATURES.items():
        if any(head.startswith(p) for p in prefixes):
            if fmt == "WEBP" and head[8:12] != b"WEBP":
                continue
            return fmt
    return None


def _describe(head: bytes) -> str:
    """A few words on what a refused file looks like, from its first bytes (for the one-line error)."""
    known = {b"%!PS": "PostScript/EPS", b"\xc5\xd0\xd3\xc6": "EPS", b"8BPS": "PSD", b"SIMPLE  =": "FITS",
             b"\x01\xda": "SGI", b"%PDF": "PDF", b"<": "text/markup", b"P6": "PPM", b"P5": "PGM",
             b"\x00\x00\x01\x00": "ICO"}
    for prefix, name in known.items():
        if head.startswith(prefix):
            return name
    return "unknown format"


def open_image(source: bytes | str | os.PathLike, what: str):
    """Open `source` (bytes, or a file path) lazily — header only — as one of the allowed formats; refuse anything
    else by its signature. Returns the open PIL image (use it as a context manager)."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        head, fp = data[:16], io.BytesIO(data)
    else:
        path = Path(source)
        with open(path, "rb") as f:
            head = f.read(16)
        fp = path
    if not head:
        raise ImageError(f"{what}: empty (0 bytes)")
    fmt = sniff(head)
    if fmt is None:
        raise ImageError(f"{what}: not a readable image ({_describe(head)}; accepted formats: {ALLOWED_TEXT})")
    try:
        return Image.open(fp, formats=[fmt])
    except Image.DecompressionBombError:
        raise ImageError(f"{what}: too many pixels (over Pillow's decompression-bomb pixel limit; refused before "
                         "decoding)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{what}: starts like {fmt} but is not a readable {fmt} file") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(f"{what}: corrupt {fmt} header ({str(e)[:120]})") from None


def header_size(source: bytes | str | os.PathLike, what: str) -> tuple[str, int, int]:
    """(format, width, height) from the header alone."""
    with open_image(source, what) as img:
        return img.format or "", img.size[0], img.size[1]
