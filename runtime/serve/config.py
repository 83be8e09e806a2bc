"""What the server is told (:class:`ServeConfig`) and how it refuses a request (:class:`ApiError` → JSON)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ServeConfig:
    """Server settings; the ``styleforge serve`` flags map one to one onto these fields."""

    max_batch: int = 8                   # images per graph run at most
    max_delay_ms: float = 5.0            # how long the first request of a batch waits for company
    queue: int = 64                      # requests waiting per model before 503
    workers: int = 1                     # inference threads: batches in flight at once
    ort_threads: int | None = None       # intra-op threads per ONNX Runtime session (None: ORT's default)
    max_body_bytes: int = 32 << 20       # request body limit (413 above)
    max_pixels: int = 16_000_000         # per image, read from the header before decoding (413 above)
    api_key: str | None = None           # with a key, every endpoint but /healthz needs "Authorization: Bearer KEY"
    backend: str = "auto"
    allow_engine_host_code: bool = False  # tensorrt: load version-compatible engines (host code from the bundle)
    warmup_size: int = 64                # side of the image each model runs once before /readyz says ready
    retry_after_s: int = 1               # Retry-After of a 503

    def check(self) -> "ServeConfig":
        from ..errors import StyleForgeError

        for name in ("max_batch", "queue", "workers", "max_body_bytes", "max_pixels", "warmup_size"):
            if getattr(self, name) < 1:
                raise StyleForgeError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.max_delay_ms < 0:
            raise StyleForgeError(f"--max-delay-ms must be >= 0, got {self.max_delay_ms}")
        return self


class ApiError(Exception):
    """A refused request: HTTP `status`, a one-line `message` (the JSON body's ``error``), extra `headers`."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}
