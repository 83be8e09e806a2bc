"""The server's front door, a plain ASGI middleware around the app: gives each request an id (``X-Request-ID``),
applies the key or — without a key — the browser rule (runtime/serve/access.py), turns a server fault into a 500/503
that names the request id (the detail goes to the log, never to the client), makes a client that went away one log
line, and counts every inference answer in /metrics — faults included."""
from __future__ import annotations

import json
import logging
import time
import uuid

from .access import authorized, browser_refusal
from .config import ClientGone, ServerFault

log = logging.getLogger("styleforge.serve")
OPEN_PATHS = ("/healthz",)  # answered to anyone: liveness probes send neither key nor browser headers


async def send_json(send, status: int, body: dict, headers: dict | None = None) -> None:
    data = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.lower().encode(), str(v).encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


class Gate:
    """``Gate(app, cfg, metrics, model_names)``: see the module docstring."""

    def __init__(self, app, cfg, metrics, model_names):
        self.app, self.cfg, self.metrics, self.names = app, cfg, metrics, set(model_names)
        self.key = cfg.api_key.encode() if cfg.api_key else None

    def _model_label(self, path: str) -> str | None:
        """The metrics label of an inference path (/v1/models/{name}/{verb}); None for other paths."""
        parts = path.split("/")
        if len(parts) == 5 and parts[1:3] == ["v1", "models"]:
            return parts[3] if parts[3] in self.names else "unknown"  # a bounded label set
        return None

    def refusal(self, scope) -> tuple[int, str, dict] | None:
        """(status, message, headers) when the request may not come in, else None."""
        if scope["path"] in OPEN_PATHS:
            return None
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if self.key is not None:
            if not authorized(headers.get("authorization"), self.key):
                return 401, "missing or wrong API key (send Authorization: Bearer KEY)", {"WWW-Authenticate": "Bearer"}
            return None
        why = browser_refusal(headers, self.cfg.port, tuple(self.cfg.allowed_hosts), tuple(self.cfg.allowed_origins))
        return None if why is None else (403, why, {})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = rid
        model, t0, status = self._model_label(scope["path"]), time.perf_counter(), [0]

        async def tagged_send(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            refused = self.refusal(scope)
            if refused is not None:
                code, message, headers = refused
                await send_json(tagged_send, code, {"error": message}, headers)
            else:
                await self.app(scope, receive, tagged_send)
        except ClientGone:
            status[0] = 499  # nginx's code for "client closed the request": nothing is sent
            log.info("request %s %s: the client went away before its answer", rid, scope["path"])
        except ServerFault as e:
            await self._fault(tagged_send, status, rid, scope["path"], e)
        except Exception as e:  # a bug: logged with its traceback, answered with the id only
            log.exception("request %s %s: internal error", rid, scope["path"])
            await self._answer_fault(tagged_send, status, 500, rid, f"internal error ({type(e).__name__})", {})
        finally:
            if model:
                self.metrics.count(model, status[0] or 500)
                self.metrics.observe("styleforge_request_seconds", time.perf_counter() - t0, model=model)

    async def _fault(self, send, status, rid: str, path: str, e: ServerFault) -> None:
        kind = "out_of_memory" if e.out_of_memory else "runner"
        self.metrics.fault(e.model, kind)
        log.error("request %s %s: server fault (%s): %s", rid, path, kind, e)
        if e.out_of_memory:
            await self._answer_fault(send, status, 503, rid, "the server ran out of memory for this request; retry "
                                     "later", {"Retry-After": str(self.cfg.retry_after_s)})
        else:
            await self._answer_fault(send, status, 500, rid, "inference failed on the server", {})

    @staticmethod
    async def _answer_fault(send, status, code: int, rid: str, message: str, headers: dict) -> None:
        if status[0]:  # the answer had started: nothing more can be said
            return
        await send_json(send, code, {"error": f"{message} (request id {rid})", "request_id": rid}, headers)
