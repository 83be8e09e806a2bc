"""Request bodies in, images out, within limits: a body over the byte limit is refused (413) before it is read
whole, a body that does not arrive within ``body_timeout_s`` is refused (408), a client that leaves mid-upload is
:class:`ClientGone` (one log line); an image is recognised by its signature (runtime/image_guard.py: six formats,
nothing else reaches a decoder), its header size is planned against the model's work budget (runtime/budget.py:
413 over it) and only then decoded; anything that is not a complete image is a 400. Decoding and encoding run in
threads (the callers use ``asyncio.to_thread``)."""
from __future__ import annotations

import asyncio
import io

import numpy as np

from .config import ApiError, ClientGone


async def read_body(request, limit: int, timeout: float) -> bytes:
    """The whole body, refusing (413) as soon as it exceeds `limit` — by Content-Length first, else while streaming —
    and (408) when it has not all arrived after `timeout` seconds."""
    from starlette.requests import ClientDisconnect

    length = request.headers.get("content-length")
    if length is not None:
        try:
            n = int(length)
        except ValueError:
            raise ApiError(400, "bad Content-Length header") from None
        if n > limit:
            raise ApiError(413, f"body is {n:,} bytes, over the {limit:,}-byte limit")
    chunks, n = [], 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                n += len(chunk)
                if n > limit:
                    raise ApiError(413, f"body is over the {limit:,}-byte limit")
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(408, f"the body did not arrive within {timeout:g} s") from None
    except ClientDisconnect:
        raise ClientGone() from None
    body = b"".join(chunks)
    request._body = body  # Starlette's request.form() parses the bytes already read  # noqa: SLF001
    return body


def image_size(data: bytes, what: str) -> tuple[int, int]:
    """(width, height) from the header of an accepted format (400 for anything else; nothing is decoded)."""
    from ..errors import ImageError
    from ..image_guard import open_image
    from ..images import MIN_SIDE

    if not data:
        raise ApiError(400, f"{what}: empty body")
    try:  # EXIF orientation may swap the sides; the work plan is the same either way (and PNG's getexif decodes)
        with open_image(data, what) as img:
            w, h = img.size
    except ImageError as e:
        raise ApiError(413 if "too many pixels" in str(e) else 400, str(e)) from None
    if min(w, h) < MIN_SIDE:
        raise ApiError(400, f"{what}: {w}x{h}; each side must be at least {MIN_SIDE} pixels")
    return w, h


def decode_image(data: bytes, what: str = "image") -> np.ndarray:
    """Bytes of an accepted format whose size was checked → H×W×3 uint8 RGB (EXIF orientation applied; the first
    frame of an animation)."""
    from PIL import Image, ImageOps

    from ..errors import ImageError
    from ..image_guard import open_image
    from ..images import _to_rgb

    try:
        with open_image(data, what) as img:
            img.load()
            return np.asarray(_to_rgb(ImageOps.exif_transpose(img)), dtype=np.uint8).copy()
    except ImageError as e:
        raise ApiError(400, str(e)) from None
    except Image.DecompressionBombError:
        raise ApiError(413, f"{what}: too many pixels (refused as a decompression bomb)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ApiError(400, f"{what}: corrupt or truncated image ({str(e)[:120]})") from None


def encode_image(array: np.ndarray, fmt: str) -> bytes:
    """PNG (compress level 1: the default 6 costs ~3x the CPU for ~10 % smaller files) or JPEG (quality 92)."""
    from PIL import Image

    buf = io.BytesIO()
    img = Image.fromarray(array)
    if fmt == "jpeg":
        img.save(buf, format="JPEG", quality=92)
    else:
        img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()
