"""What the server is told (:class:`ServeConfig`) and how it refuses a request (:class:`ApiError` → JSON) or reports
its own failure (:class:`ServerFault` → 500/503 with a request id)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..budget import SERVE_MAX_PIXELS, SERVE_MAX_RUN_PIXELS


@dataclass
class ServeConfig:
    """Server settings; the ``styleforge serve`` flags map one to one onto these fields (docs/serve.md, "Running in
    production", says why each default is what it is)."""

    max_batch: int = 8                   # images per graph run at most
    max_delay_ms: float = 5.0            # how long the first request of a batch waits for company
    queue: int = 64                      # requests admitted per model (reading, decoding or waiting) before 503
    workers: int = 1                     # inference threads: batches in flight at once
    ort_threads: int | None = None       # intra-op threads per ONNX Runtime session (None: ORT's default)
    max_body_bytes: int = 32 << 20       # request body limit (413 above)
    max_pixels: int = SERVE_MAX_PIXELS   # work per image after padding and tiling (runtime/budget.py; 413 above)
    max_run_pixels: int = SERVE_MAX_RUN_PIXELS  # pixels in one graph run: an untiled image, or a whole batch
    bundle_max_pixels: dict = field(default_factory=dict)  # {model name: max_pixels} overrides per bundle
    api_key: str | None = None           # with a key, every endpoint but /healthz needs "Authorization: Bearer KEY"
    backend: str = "auto"
    allow_engine_host_code: bool = False  # tensorrt: load version-compatible engines (host code from the bundle)
    warmup_size: int = 64                # side of the image each model runs once before /readyz says ready
    retry_after_s: int = 1               # Retry-After of a 503
    deadline_s: float = 30.0             # a request that cannot start running within this is answered 503
    body_timeout_s: float = 30.0         # the whole body must arrive within this (408 after)
    # uvicorn's side (`styleforge serve`): connections, and how long a connection may say nothing useful
    limit_concurrency: int = 512         # open connections at most; above it new requests get 503
    header_timeout_s: float = 10.0       # a request's headers must be complete within this, or the connection closes
    keep_alive_s: float = 5.0            # an idle keep-alive connection closes after this
    # who may ask without a key (runtime/serve/access.py): the bound port, extra Host names and Origins
    port: int | None = None
    allowed_hosts: tuple = ()
    allowed_origins: tuple = ()

    def check(self) -> "ServeConfig":
        from ..errors import StyleForgeError

        for name in ("max_batch", "queue", "workers", "max_body_bytes", "max_pixels", "max_run_pixels", "warmup_size",
                     "limit_concurrency"):
            if getattr(self, name) < 1:
                raise StyleForgeError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        for name in ("deadline_s", "body_timeout_s", "header_timeout_s", "keep_alive_s"):
            if not getattr(self, name) > 0:
                raise StyleForgeError(f"--{name[:-2].replace('_', '-')} must be positive, got {getattr(self, name)}")
        if self.max_delay_ms < 0:
            raise StyleForgeError(f"--max-delay-ms must be >= 0, got {self.max_delay_ms}")
        for name, n in self.bundle_max_pixels.items():
            if int(n) < 1:
                raise StyleForgeError(f"--bundle-max-pixels {name}={n}: must be at least 1")
        return self

    def budget(self, model: str):
        """The work budget of one model's requests (runtime/budget.py)."""
        from ..budget import Budget

        return Budget(max_pixels=int(self.bundle_max_pixels.get(model, self.max_pixels)),
                      max_run_pixels=self.max_run_pixels)


class ApiError(Exception):
    """A refused request: HTTP `status`, a one-line `message` (the JSON body's ``error``), extra `headers`."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class ServerFault(Exception):
    """The server failed a request that was fine (a runner error, out of memory): answered 500 (503 with Retry-After
    for out of memory) with a request id; `detail` goes to the log only, never to the client."""

    def __init__(self, model: str, cause: BaseException):
        super().__init__(f"{model}: {type(cause).__name__}: {cause}")
        self.model, self.cause = model, cause

    @property
    def out_of_memory(self) -> bool:
        text = str(self.cause).lower()
        return isinstance(self.cause, MemoryError) or any(s in text for s in ("out of memory", "bad_alloc",
                                                                              "failed to allocate"))


class ClientGone(Exception):
    """The client closed the connection (mid-upload, or while its request waited): nothing to answer."""
