"""Request bodies in, images out, within limits: a body over the byte limit is refused (413) before it is read
whole; an image whose header says more pixels than allowed is refused (413) before it is decoded; anything that is
not a complete image is a 400. Decoding and encoding run in threads (the callers use ``asyncio.to_thread``)."""
from __future__ import annotations

import io

import numpy as np

from .config import ApiError


async def read_body(request, limit: int) -> bytes:
    """The whole body, refusing (413) as soon as it exceeds `limit`: by Content-Length first, else while streaming."""
    length = request.headers.get("content-length")
    if length is not None:
        try:
            n = int(length)
        except ValueError:
            raise ApiError(400, "bad Content-Length header") from None
        if n > limit:
            raise ApiError(413, f"body is {n:,} bytes, over the {limit:,}-byte limit")
    chunks, n = [], 0
    async for chunk in request.stream():
        n += len(chunk)
        if n > limit:
            raise ApiError(413, f"body is over the {limit:,}-byte limit")
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # Starlette's request.form() parses the bytes already read  # noqa: SLF001
    return body


def decode_image(data: bytes, max_pixels: int, what: str = "image") -> np.ndarray:
    """Bytes → H×W×3 uint8 RGB (EXIF orientation applied; the first frame of an animation)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    from ..images import MIN_SIDE, _to_rgb

    if not data:
        raise ApiError(400, f"{what}: empty body")
    try:
        with Image.open(io.BytesIO(data)) as img:  # lazy: reads the header only
            w, h = img.size
            if w * h > max_pixels:
                raise ApiError(413, f"{what}: {w}x{h} = {w * h:,} pixels, over the {max_pixels:,}-pixel limit")
            if min(w, h) < MIN_SIDE:
                raise ApiError(400, f"{what}: {w}x{h}; each side must be at least {MIN_SIDE} pixels")
            img.load()
            return np.asarray(_to_rgb(ImageOps.exif_transpose(img)), dtype=np.uint8).copy()
    except ApiError:
        raise
    except Image.DecompressionBombError:
        raise ApiError(413, f"{what}: too many pixels (refused as a decompression bomb)") from None
    except UnidentifiedImageError:
        raise ApiError(400, f"{what}: not a readable image") from None
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
