"""`styleforge serve BUNDLE…`: serve bundles over HTTP with dynamic batching (needs the ``serve`` extra;
runtime/serve/, docs/serve.md). Exits 0 after a graceful SIGTERM/SIGINT drain."""
from __future__ import annotations

SERVE_EPILOG = """\
Endpoints: GET /healthz, GET /readyz, GET /v1/models, POST /v1/models/NAME/stylize|translate|generate,
GET /metrics (Prometheus), GET / (web page). NAME is the bundle's file stem. With an API key
(--api-key-file or STYLEFORGE_API_KEY) every endpoint except /healthz needs "Authorization: Bearer KEY";
without one, a request whose Host is not this server or whose Origin is another site gets 403
(--allowed-host / --allowed-origin for a reverse proxy). Images: PNG, JPEG, WebP, BMP, TIFF, GIF.
SIGTERM or Ctrl-C: stop accepting, answer every queued request, exit 0."""


def register(cli) -> None:
    import argparse

    from ..budget import SERVE_MAX_PIXELS, SERVE_MAX_RUN_PIXELS
    from . import positive_int

    p = cli.command("serve", help="serve bundles over HTTP with dynamic batching (pip install styleforge[serve])")
    p.epilog = SERVE_EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("bundles", nargs="+", metavar="BUNDLE", help="bundles to serve, each under its file stem")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--max-batch", type=positive_int, default=8, help="images per graph run at most (default 8)")
    p.add_argument("--max-delay-ms", type=float, default=5.0,
                   help="how long a request waits for others to batch with (default 5)")
    p.add_argument("--queue", type=positive_int, default=64,
                   help="waiting requests per model before answering 503 (default 64)")
    p.add_argument("--workers", type=positive_int, default=1, help="inference threads: batches run at once (default 1)")
    p.add_argument("--ort-threads", type=positive_int, default=None, help="intra-op threads per ONNX Runtime session")
    p.add_argument("--backend", default="auto", help="auto | ort-cpu | openvino | ort-cuda | tensorrt")
    from . import add_host_code_argument

    add_host_code_argument(p)
    p.add_argument("--max-body-mb", type=float, default=32.0, help="request body limit in MiB (413 above; default 32)")
    limits = p.add_argument_group("limits (docs/serve.md, 'Running in production')")
    limits.add_argument("--max-pixels", type=positive_int, default=SERVE_MAX_PIXELS, metavar="N",
                        help="work per image: pixels after padding to the bundle's size rule and tiling, planned from "
                             f"the header before decoding (413 above; default {SERVE_MAX_PIXELS})")
    limits.add_argument("--bundle-max-pixels", action="append", default=[], metavar="NAME=N",
                        help="--max-pixels for one model (repeatable)")
    limits.add_argument("--max-run-pixels", type=positive_int, default=SERVE_MAX_RUN_PIXELS, metavar="N",
                        help="pixels in one graph run: an untiled image, or a whole batch (default "
                             f"{SERVE_MAX_RUN_PIXELS})")
    limits.add_argument("--deadline", type=float, default=30.0, metavar="S",
                        help="a request that cannot start running within S seconds gets 503 + Retry-After (default 30)")
    limits.add_argument("--body-timeout", type=float, default=30.0, metavar="S",
                        help="the whole request body must arrive within S seconds (408 after; default 30)")
    limits.add_argument("--header-timeout", type=float, default=10.0, metavar="S",
                        help="a connection must send complete request headers within S seconds (default 10)")
    limits.add_argument("--keep-alive", type=float, default=5.0, metavar="S",
                        help="idle keep-alive connections close after S seconds (default 5)")
    limits.add_argument("--limit-concurrency", type=positive_int, default=512, metavar="N",
                        help="open connections at most; above it new requests get 503 (default 512)")
    p.add_argument("--api-key-file", default=None, metavar="FILE",
                   help="require 'Authorization: Bearer KEY' (KEY = the file's content); or set STYLEFORGE_API_KEY")
    p.add_argument("--insecure", action="store_true", help="allow a non-loopback --host without an API key")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME[:PORT]",
                   help="without a key, also accept this Host header (the name a reverse proxy forwards; repeatable; "
                        "'*': any)")
    p.add_argument("--allowed-origin", action="append", default=[], metavar="SCHEME://HOST[:PORT]",
                   help="without a key, also accept requests from this browser Origin (repeatable; '*': any)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=run_serve)


def run_serve(args) -> int:
    from ..errors import StyleForgeError
    from ..serve.access import check_bind, resolve_api_key
    from ..serve.served import bundle_name

    key = resolve_api_key(args.api_key_file)
    check_bind(args.host, key, args.insecure)
    names: dict[str, str] = {}
    for b in args.bundles:
        name = bundle_name(b)
        if name in names:
            raise StyleForgeError(f"two bundles would be served as {name!r} ({names[name]}, {b}); rename one")
        names[name] = b
    cfg = _config(args, key, names)
    try:
        import uvicorn

        from ..serve.app import create_app
    except ImportError as e:
        raise StyleForgeError(f"serve needs the serve extra ({e.name} is missing): pip install 'styleforge[serve]'") from None
    from ..bundle import open_bundle
    from ..interfaces import find_interface
    from ..serve.served import endpoints

    for path in names.values():  # a bad bundle is one line here, before the server starts
        interface = open_bundle(path).interface
        spec = find_interface(interface)
        if spec is None or not spec.endpoint:
            raise StyleForgeError(f"{path}: a {interface!r} bundle has no HTTP endpoint (served: {', '.join(endpoints())})")
    import logging

    logging.getLogger("styleforge.serve").setLevel(args.log_level.upper())  # through the CLI's stderr handler
    from ..serve.protocol import timed_h11

    config = uvicorn.Config(create_app(names, cfg), host=args.host, port=args.port, log_level=args.log_level,
                            timeout_graceful_shutdown=60, access_log=args.log_level in ("info", "debug"),
                            http=timed_h11(cfg.header_timeout_s), limit_concurrency=cfg.limit_concurrency,
                            timeout_keep_alive=cfg.keep_alive_s)
    server = _Server(config)
    server.run()
    return 0 if server.started else 1


def _config(args, key: str | None, names: dict):
    """The ServeConfig of the command line (checked: a bad value is one line)."""
    from ..errors import StyleForgeError
    from ..serve.config import ServeConfig

    per_bundle = {}
    for item in args.bundle_max_pixels:
        name, _, n = item.partition("=")
        if name not in names or not n.strip().isdigit():
            raise StyleForgeError(f"--bundle-max-pixels {item!r}: expected NAME=PIXELS with NAME one of "
                                  f"{', '.join(names)}")
        per_bundle[name] = int(n)
    return ServeConfig(max_batch=args.max_batch, max_delay_ms=args.max_delay_ms, queue=args.queue, workers=args.workers,
                       ort_threads=args.ort_threads, backend=args.backend,
                       max_body_bytes=int(args.max_body_mb * (1 << 20)),
                       max_pixels=args.max_pixels, max_run_pixels=args.max_run_pixels, bundle_max_pixels=per_bundle,
                       api_key=key, deadline_s=args.deadline, body_timeout_s=args.body_timeout,
                       header_timeout_s=args.header_timeout, keep_alive_s=args.keep_alive,
                       limit_concurrency=args.limit_concurrency, port=args.port,
                       allow_engine_host_code=args.allow_engine_host_code,
                       allowed_hosts=tuple(h.strip().lower() for h in args.allowed_host),
                       allowed_origins=tuple(o.strip().lower().rstrip("/") for o in args.allowed_origin)).check()


def _server_class():
    import contextlib
    import signal
    import threading

    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server without its re-raise of the caught signal after the drain: `serve` exits 0."""

        @contextlib.contextmanager
        def capture_signals(self):
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            signals = (signal.SIGINT, signal.SIGTERM)
            original = {sig: signal.signal(sig, self.handle_exit) for sig in signals}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return Server


def _Server(config):
    return _server_class()(config)
