"""`styleforge serve`: an HTTP server over bundles (FastAPI + uvicorn, the ``serve`` extra), with dynamic batching,
Prometheus metrics, limits, an optional API key and a small web page. Torch-free; docs/serve.md.

    from styleforge.runtime.serve import ServeConfig, create_app
    app = create_app({"mosaic": "mosaic.sfbundle"}, ServeConfig(max_batch=8))   # an ASGI app

Modules: ``config`` (settings, the error types), ``access`` (API key, loopback rule, Host/Origin rule), ``gate``
(the ASGI front door: access, request ids, faults, metrics), ``metrics`` (Prometheus text), ``batcher`` (dynamic
batching, admission, deadlines), ``served`` (a bundle behind an endpoint), ``handling`` (one request's steps),
``uploads`` (body and image limits), ``protocol`` (uvicorn's h11 with a header timeout), ``app`` (the routes),
``page.html`` (the web page at ``/``). Embedded with ``create_app`` and no ``port`` in the config, the Host rule
accepts IP addresses and localhost on any port.
"""
from .config import ApiError, ServeConfig

__all__ = ["ServeConfig", "ApiError", "create_app"]


def create_app(bundles, config: ServeConfig | None = None):
    """The ASGI app serving `bundles` ({name: path}); imports FastAPI only when called."""
    from .app import create_app as _create

    return _create(bundles, config)
