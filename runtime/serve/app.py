"""The FastAPI app: routes, the API-key check, error bodies and request metrics (docs/serve.md).

GET /healthz (process up; never needs the key) · GET /readyz (every bundle loaded and warmed up) ·
GET /v1/models · POST /v1/models/{name}/stylize | translate | generate · GET /metrics · GET / (web page).
Every error is JSON ``{"error": "..."}``. Models load and warm up in the lifespan start-up; on shutdown uvicorn
stops accepting, lets requests in flight finish (they await their batch), then the lifespan end drains the
batchers and the inference pool.
"""
from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import StyleForgeError
from .access import authorized
from .batcher import DynamicBatcher
from .config import ApiError, ServeConfig
from .metrics import Metrics
from .served import ServedModel
from .uploads import decode_image, encode_image, read_body

log = logging.getLogger("styleforge.serve")
PAGE = Path(__file__).with_name("page.html")


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def create_app(bundles: dict[str, str], cfg: ServeConfig | None = None) -> FastAPI:
    """The ASGI app for `bundles` ({name: path})."""
    from PIL import Image

    cfg = (cfg or ServeConfig()).check()
    Image.MAX_IMAGE_PIXELS = cfg.max_pixels  # Pillow's own decompression-bomb guard, a second line behind ours
    models: dict[str, ServedModel] = {}
    batchers: dict[str, DynamicBatcher] = {}
    metrics = Metrics()
    key = cfg.api_key.encode() if cfg.api_key else None
    state = {"ready": False}

    @asynccontextmanager
    async def lifespan(app):
        executor = ThreadPoolExecutor(max_workers=cfg.workers, thread_name_prefix="sf-infer")
        for name, path in bundles.items():
            sm = await asyncio.to_thread(ServedModel, name, path, cfg)
            await asyncio.to_thread(sm.warmup, cfg.warmup_size)
            models[name] = sm
            batchers[name] = DynamicBatcher(name, sm.run_batch, executor, cfg, metrics)
        state["ready"] = True
        log.info("ready: %s", ", ".join(f"{n} ({m.interface}, {m.backend})" for n, m in models.items()))
        yield
        state["ready"] = False
        await asyncio.gather(*(b.close() for b in batchers.values()))
        executor.shutdown(wait=True)
        log.info("shut down cleanly: every queued request was answered")

    app = FastAPI(title="StyleForge", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.models, app.state.batchers, app.state.metrics = models, batchers, metrics

    @app.exception_handler(ApiError)
    async def _api_error(request, exc: ApiError):
        return _error(exc.status, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, exc):
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _crash(request, exc):
        log.exception("internal error on %s", request.url.path)
        return _error(500, f"internal error ({type(exc).__name__})")

    @app.middleware("http")
    async def access_and_metrics(request: Request, call_next):
        t0 = time.perf_counter()
        parts = request.url.path.split("/")
        model = None  # inference endpoints only: /v1/models/{name}/{verb}
        if len(parts) == 5 and parts[1:3] == ["v1", "models"]:
            model = parts[3] if parts[3] in bundles else "unknown"  # bounded label set
        if key is not None and request.url.path != "/healthz" and not authorized(request.headers.get("authorization"), key):
            response = _error(401, "missing or wrong API key (send Authorization: Bearer KEY)", {"WWW-Authenticate": "Bearer"})
        else:
            response = await call_next(request)
        if model:
            metrics.count(model, response.status_code)
            metrics.observe("styleforge_request_seconds", time.perf_counter() - t0, model=model)
        return response

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz():
        status = {n: (n in models and models[n].ready) for n in bundles}
        ok = state["ready"] and all(status.values())
        body = {"ready": ok, "models": status}
        return JSONResponse(body if ok else {**body, "error": "not ready"}, status_code=200 if ok else 503)

    @app.get("/v1/models")
    async def list_models():
        return {"models": [m.info() for m in models.values()]}

    @app.get("/metrics")
    async def metrics_text():
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/")
    async def page():
        return HTMLResponse(PAGE.read_text("utf-8"))

    def get_model(name: str, endpoint: str) -> ServedModel:
        sm = models.get(name)
        if sm is None:
            raise ApiError(404, f"no model named {name!r} (served: {', '.join(models) or 'none'})")
        if sm.endpoint != endpoint:
            raise ApiError(404, f"model {name} is a {sm.interface} bundle: use POST /v1/models/{name}/{sm.endpoint}")
        return sm

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

    async def read_images(request: Request, want_style: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Raw image body (Content-Type image/*), or multipart with parts ``image`` (and ``style``)."""
        body = await read_body(request, cfg.max_body_bytes)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
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
        elif ctype.startswith("image/") or ctype == "application/octet-stream":
            parts["image"] = body
        else:
            raise ApiError(400, f"Content-Type must be image/* or multipart/form-data, got {ctype or 'none'!r}")
        if want_style and "style" not in parts:
            raise ApiError(400, "WCT models need a style image: send multipart with 'image' and 'style' parts")
        image = await asyncio.to_thread(decode_image, parts["image"], cfg.max_pixels, "image")
        style = await asyncio.to_thread(decode_image, parts["style"], cfg.max_pixels, "style") if want_style else None
        return image, style

    async def answer(sm: ServedModel, payload: dict, request: Request) -> Response:
        fmt = output_format(request)
        try:
            out, size = await batchers[sm.name].submit(sm.key(payload), payload, alone=sm.alone(payload))
        except StyleForgeError as e:  # the runtime's refusal of this input (bad label, …)
            raise ApiError(400, str(e)) from None
        data = await asyncio.to_thread(encode_image, out, fmt)
        return Response(data, media_type=f"image/{fmt}", headers={"X-Batch-Size": str(size)})

    @app.post("/v1/models/{name}/stylize")
    async def stylize(name: str, request: Request):
        sm = get_model(name, "stylize")
        payload = sm.spec.request_options(request.query_params, sm.model, lambda *a: int_param(request, *a))
        payload["image"], payload["style"] = await read_images(request, want_style=sm.spec.takes_style)
        return await answer(sm, payload, request)

    @app.post("/v1/models/{name}/translate")
    async def translate(name: str, request: Request):
        sm = get_model(name, "translate")
        reverse = (request.query_params.get("reverse") or "").lower() in ("1", "true", "yes")
        if reverse and not sm.model.reversible:
            raise ApiError(400, f"model {name} translates one way only; reverse needs a CycleGAN bundle")
        image, _ = await read_images(request, want_style=False)
        return await answer(sm, {"image": image, "reverse": reverse}, request)

    @app.post("/v1/models/{name}/generate")
    async def generate(name: str, request: Request):
        sm = get_model(name, "generate")
        payload = sm.spec.request_options(request.query_params, sm.model, lambda *a: int_param(request, *a))
        return await answer(sm, payload, request)

    @app.post("/v1/models/{name}/{verb}")
    async def other_endpoint(name: str, verb: str, request: Request):
        """The endpoint of an interface without a route above (its spec's ``endpoint``; template.py's
        ``transform``): query options from the spec, an image (and style) upload unless its input is a latent."""
        sm = get_model(name, verb)
        payload = sm.spec.request_options(request.query_params, sm.model, lambda *a: int_param(request, *a))
        if sm.spec.main_input == "image":
            payload["image"], payload["style"] = await read_images(request, want_style=sm.spec.takes_style)
        return await answer(sm, payload, request)

    return app
