"""The FastAPI app: routes, error bodies and the models' lifecycle (docs/serve.md).

GET /healthz (process up; never needs the key) · GET /readyz (every bundle loaded and warmed up) ·
GET /v1/models · POST /v1/models/{name}/stylize | translate | generate · GET /metrics · GET / (web page).
Every error is JSON ``{"error": "..."}``; access, request ids, faults and request metrics live in the ASGI
middleware around it (runtime/serve/gate.py), one inference request's steps in runtime/serve/handling.py. Models
load and warm up in the lifespan start-up; on shutdown uvicorn stops accepting, lets requests in flight finish
(they await their batch), then the lifespan end drains the batchers and the inference pool.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .batcher import DynamicBatcher
from .config import ApiError, ServeConfig
from .gate import Gate
from .handling import infer, int_param
from .metrics import Metrics
from .served import ServedModel

log = logging.getLogger("styleforge.serve")
PAGE = Path(__file__).with_name("page.html")


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class _State:
    """What the routes share: the bundles to serve, the loaded models, their batchers, the metrics."""

    def __init__(self, bundles: dict[str, str], cfg: ServeConfig):
        self.bundles, self.cfg = bundles, cfg
        self.models: dict[str, ServedModel] = {}
        self.batchers: dict[str, DynamicBatcher] = {}
        self.metrics = Metrics()
        self.ready = False

    @asynccontextmanager
    async def lifespan(self, app):
        executor = ThreadPoolExecutor(max_workers=self.cfg.workers, thread_name_prefix="sf-infer")
        for name, path in self.bundles.items():
            sm = await asyncio.to_thread(ServedModel, name, path, self.cfg)
            await asyncio.to_thread(sm.warmup, self.cfg.warmup_size)
            self.models[name] = sm
            self.batchers[name] = DynamicBatcher(name, sm.run_batch, executor, self.cfg, self.metrics)
        self.ready = True
        log.info("ready: %s", ", ".join(f"{n} ({m.interface}, {m.backend})" for n, m in self.models.items()))
        yield
        self.ready = False
        await asyncio.gather(*(b.close() for b in self.batchers.values()))
        executor.shutdown(wait=True)
        log.info("shut down cleanly: every queued request was answered")

    def model(self, name: str, endpoint: str) -> ServedModel:
        sm = self.models.get(name)
        if sm is None:
            raise ApiError(404, f"no model named {name[:80]!r} (served: {', '.join(self.models) or 'none'})")
        if sm.endpoint != endpoint:
            raise ApiError(404, f"model {name} is a {sm.interface} bundle: use POST /v1/models/{name}/{sm.endpoint}")
        return sm


def create_app(bundles: dict[str, str], cfg: ServeConfig | None = None) -> FastAPI:
    """The ASGI app for `bundles` ({name: path})."""
    cfg = (cfg or ServeConfig()).check()
    st = _State(bundles, cfg)
    app = FastAPI(title="StyleForge", lifespan=st.lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.models, app.state.batchers, app.state.metrics = st.models, st.batchers, st.metrics
    app.add_middleware(Gate, cfg=cfg, metrics=st.metrics, model_names=list(bundles))
    _add_error_handlers(app)
    _add_info_routes(app, st)
    _add_inference_routes(app, st)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request, exc: ApiError):
        return _error(exc.status, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, exc):
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))


def _add_info_routes(app: FastAPI, st: _State) -> None:
    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz():
        status = {n: (n in st.models and st.models[n].ready) for n in st.bundles}
        ok = st.ready and all(status.values())
        body = {"ready": ok, "models": status}
        return JSONResponse(body if ok else {**body, "error": "not ready"}, status_code=200 if ok else 503)

    @app.get("/v1/models")
    async def list_models():
        return {"models": [m.info() for m in st.models.values()]}

    @app.get("/metrics")
    async def metrics_text():
        return PlainTextResponse(st.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/")
    async def page():
        return HTMLResponse(PAGE.read_text("utf-8"))


def _options(sm: ServedModel, request: Request) -> dict:
    """A request's query options, read and checked by its interface's spec (400 naming the bad one)."""
    return sm.spec.request_options(request.query_params, sm.model, lambda *a: int_param(request, *a))


def _images(sm: ServedModel) -> tuple:
    """The uploads a request of this model carries: none (a latent input), the image, or the image and a style."""
    if sm.spec.main_input != "image":
        return ()
    return ("image", "style") if sm.spec.takes_style else ("image",)


def _add_inference_routes(app: FastAPI, st: _State) -> None:
    @app.post("/v1/models/{name}/stylize")
    async def stylize(name: str, request: Request):
        sm = st.model(name, "stylize")
        return await infer(request, sm, st.batchers[name], st.cfg, _options(sm, request), _images(sm))

    @app.post("/v1/models/{name}/translate")
    async def translate(name: str, request: Request):
        sm = st.model(name, "translate")
        reverse = (request.query_params.get("reverse") or "").lower() in ("1", "true", "yes")
        if reverse and not sm.model.reversible:
            raise ApiError(400, f"model {name} translates one way only; reverse needs a CycleGAN bundle")
        return await infer(request, sm, st.batchers[name], st.cfg, {"reverse": reverse}, ("image",))

    @app.post("/v1/models/{name}/generate")
    async def generate(name: str, request: Request):
        sm = st.model(name, "generate")
        return await infer(request, sm, st.batchers[name], st.cfg, _options(sm, request))

    @app.post("/v1/models/{name}/{verb}")
    async def other_endpoint(name: str, verb: str, request: Request):
        """The endpoint of an interface without a route above (its spec's ``endpoint``; template.py's
        ``transform``): query options from the spec, an image (and style) upload unless its input is a latent."""
        sm = st.model(name, verb)
        return await infer(request, sm, st.batchers[name], st.cfg, _options(sm, request), _images(sm))
