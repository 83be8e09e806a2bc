"""`styleforge serve`: an HTTP server over bundles (FastAPI + uvicorn, the ``serve`` extra), with dynamic batching,
Prometheus metrics, limits, an optional API key and a small web page. Torch-free; docs/serve.md.

    from styleforge.runtime.serve import ServeConfig, create_app
    app = create_app({"mosaic": "mosaic.sfbundle"}, ServeConfig(max_batch=8))   # an ASGI app

Modules: ``config`` (settings, the API error type), ``access`` (API key, loopback rule), ``metrics`` (Prometheus
text), ``batcher`` (dynamic batching), ``served`` (a bundle behind an endpoint), ``uploads`` (body and image
limits), ``app`` (the routes), ``page.html`` (the web page at ``/``).
"""
from .config import ApiError, ServeConfig

__all__ = ["ServeConfig", "ApiError", "create_app"]


def create_app(bundles, config: ServeConfig | None = None):
    """The ASGI app serving `bundles` ({name: path}); imports FastAPI only when called."""
    from .app import create_app as _create

    return _create(bundles, config)
