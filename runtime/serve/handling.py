"""One inference request, in the order that keeps it cheap to refuse: parameters checked → admitted to the model's
queue (503 when full) → body read (413 / 408) → image headers planned against the work budget (413) → decoded →
queued with a deadline (503) while watching for the client to leave (dropped) → run → encoded. Errors: the client's
are :class:`ApiError` (4xx, one line naming the problem), the server's are :class:`ServerFault` (500/503 with a
request id; runtime/serve/gate.py answers and logs them)."""
from __future__ import annotations

import asyncio

from fastapi import Request
from fastapi.responses import Response

from ..budget import BudgetError, Geometry
from .config import ApiError, ClientGone, ServeConfig, ServerFault
from .uploads import decode_image, encode_image, image_size, read_body


def output_format(request: Request) -> str:
    f = (request.query_params.get("format") or "").lower()
    accept = request.headers.get("accept", "")
    if f in ("jpg", "jpeg") or (not f and "image/jpeg" in accept and "image/png" not in accept):
        return "jpeg"
    if f not in ("", "png"):
        raise ApiError(400, f"format must be png or jpeg, got {f[:20]!r}")
    return "png"


def int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {text[:40]!r}") from None
    if not lo <= value <= hi:
        raise ApiError(400, f"{name} must be in {lo}..{hi}, got {value}")
    return value


async def read_parts(request: Request, cfg: ServeConfig, style_for: str | None) -> dict[str, bytes]:
    """Raw image body (Content-Type image/*), or multipart with parts ``image`` (and ``style``) → {part: bytes}.
    `style_for`: how messages name the models that need the ``style`` part (the interface spec's label), else None."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "multipart/form-data" and not (ctype.startswith("image/") or ctype == "application/octet-stream"):
        raise ApiError(400, f"Content-Type must be image/* or multipart/form-data, got {ctype[:60] or 'none'!r}")
    body = await read_body(request, cfg.max_body_bytes, cfg.body_timeout_s)
    parts: dict[str, bytes] = {}
    if ctype == "multipart/form-data":
        try:
            form = await request.form(max_files=2, max_fields=8)
        except Exception as e:  # python-multipart's and Starlette's own parse errors
            raise ApiError(400, f"bad multipart body ({str(e)[:100]})") from None
        for name in ("image", "style"):
            part = form.get(name)
            if part is not None:
                parts[name] = await part.read() if hasattr(part, "read") else str(part).encode()
        if "image" not in parts:
            raise ApiError(400, "the multipart body needs an 'image' part")
    else:
        parts["image"] = body
    if style_for is not None and "style" not in parts:
        raise ApiError(400, f"{style_for} models need a style image: send multipart with 'image' and 'style' parts")
    return {k: v for k, v in parts.items() if k == "image" or style_for is not None}


def image_role(sm, params: dict) -> str:
    """The graph role whose tiling graphs decide an image's work ("" where the interface never tiles requests)."""
    return sm.spec.tile_role(params) or ""


def check_work(sm, cfg: ServeConfig, parts: dict[str, bytes], params: dict) -> int:
    """Plan every image of the request from its header against the model's budget (413 over it, saying the limit);
    returns the pixels the request adds to a batched graph run."""
    geo = Geometry.of(sm.model.manifest, image_role(sm, params))
    budget = cfg.budget(sm.name)
    pixels = 0
    for name, data in parts.items():
        w, h = image_size(data, name)
        work = sm.spec.upload_work(sm.model.manifest, name, h, w, geo, params)
        try:
            budget.check(work, name, where=f" of model {sm.name}")
        except BudgetError as e:
            raise ApiError(413, str(e)) from None
        pixels += work.run_pixels
    return pixels


async def until_disconnect(request: Request, job):
    """Await `job` unless the client goes away first: then `job` is cancelled (a queued request leaves the queue)
    and :class:`ClientGone` is raised."""
    async def gone():
        while (await request.receive())["type"] != "http.disconnect":
            pass

    task, watch = asyncio.ensure_future(job), asyncio.ensure_future(gone())
    try:
        done, _ = await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            return task.result()
        raise ClientGone()
    finally:
        for t in (task, watch):
            if not t.done():
                t.cancel()


async def infer(request: Request, sm, batcher, cfg: ServeConfig, params: dict, images: tuple = ()) -> Response:
    """Run one request whose parameters are checked (`params`); `images`: the parts it needs ("image", "style")."""
    fmt = output_format(request)
    with batcher.admission() as ticket:
        style_for = (sm.spec.label or sm.spec.name) if "style" in images else None
        parts = await read_parts(request, cfg, style_for) if images else {}
        pixels = check_work(sm, cfg, parts, params)
        for name, data in parts.items():
            params[name] = await asyncio.to_thread(decode_image, data, name)
        if images:
            params.setdefault("style", None)
        job = batcher.submit(sm.key(params), params, alone=sm.alone(params), pixels=pixels, ticket=ticket)
        try:
            out, size = await until_disconnect(request, job)
        except (ApiError, ClientGone):
            raise
        except Exception as e:  # the runner failed on input that passed every check: the server's fault
            raise ServerFault(sm.name, e) from e
    data = await asyncio.to_thread(encode_image, out, fmt)
    return Response(data, media_type=f"image/{fmt}", headers={"X-Batch-Size": str(size)})
