"""Dynamic batching: concurrent requests of one model that can share a graph run (same key: image size, and any
option that must be equal inside a run) are gathered until ``max_batch`` of them wait, their pixels would pass
``max_run_pixels``, or the oldest has waited ``max_delay_ms``; then they run as one batch in an inference thread
pool (ONNX Runtime releases the GIL, so the event loop keeps accepting). At most ``workers`` batches run at once;
meanwhile the others keep filling, which is what makes batches grow under load.

Bounded at every step: a request is *admitted* (:meth:`DynamicBatcher.admission`) before its body is read, and a
full queue — admitted requests still reading or decoding count — answers 503 + Retry-After instead of growing; a
request that cannot start within ``deadline_s`` is answered 503; a request whose client has gone (its future
cancelled) leaves the queue at once and is never run, during the drain too; a batch that fails is rerun one request
at a time, so one bad request never fails the others."""
from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Callable

from .config import ApiError, ServeConfig
from .metrics import Metrics


@dataclass
class _Item:
    payload: object
    future: asyncio.Future
    key: object
    pixels: int = 0
    started: bool = False


@dataclass
class _Group:
    items: list = field(default_factory=list)
    deadline: float = 0.0


@dataclass
class _Failed:
    """One request's exception inside a batch that was rerun request by request."""

    error: BaseException


class DynamicBatcher:
    """Batches for one model. Inside ``with admission():``, ``await submit(key, payload, pixels=…)`` → ``(result, batch
    size)``; ``run_batch(key, payloads)`` runs in `executor` and returns one result per payload. Create it inside the
    running event loop."""

    def __init__(self, name: str, run_batch: Callable, executor: Executor, cfg: ServeConfig, metrics: Metrics):
        self.name, self.run_batch, self.executor, self.cfg, self.metrics = name, run_batch, executor, cfg, metrics
        self.groups: dict[object, _Group] = {}
        self.waiting = 0       # queued in groups, not yet dispatched
        self.admitted = 0      # admitted and not yet queued (reading, decoding)
        self.inflight: set = set()
        self._wake = asyncio.Event()
        self._closing = False
        self._slots = asyncio.Semaphore(max(1, cfg.workers))
        self._task = asyncio.get_running_loop().create_task(self._loop(), name=f"batcher-{name}")
        metrics.set_queue(name, 0)

    def _busy(self, why: str) -> ApiError:
        return ApiError(503, why, {"Retry-After": str(self.cfg.retry_after_s)})

    @contextlib.contextmanager
    def admission(self):
        """Admit one request before any of its body is read: 503 when shutting down or when the queue is full.
        Yields the ticket :meth:`submit` takes (the request then counts as waiting instead of admitted)."""
        if self._closing:
            raise self._busy("server is shutting down")
        if self.waiting + self.admitted >= self.cfg.queue:
            raise self._busy(f"queue full ({self.cfg.queue} requests admitted for model {self.name}); retry later")
        self.admitted += 1
        ticket = {"since": time.monotonic(), "queued": False}
        try:
            yield ticket
        finally:
            if not ticket["queued"]:
                self.admitted -= 1

    async def submit(self, key, payload, *, alone: bool = False, pixels: int = 0, ticket: dict | None = None):
        """Queue one request (`ticket`: from :meth:`admission`, whose time starts the deadline; `pixels`: its
        graph-run pixels); `alone`: never batched with others (dispatched at once)."""
        if self._closing:
            raise self._busy("server is shutting down")
        since = time.monotonic()
        if ticket is not None:
            ticket["queued"], since = True, ticket["since"]
            self.admitted -= 1
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        now = time.monotonic()
        item = _Item(payload, fut, ("alone", id(fut)) if alone else key, pixels)
        group = self.groups.get(item.key)
        if group is None:
            group = self.groups[item.key] = _Group(deadline=now if alone else now + self.cfg.max_delay_ms / 1000.0)
        group.items.append(item)
        self._count(+1)
        self._wake.set()
        left = self.cfg.deadline_s - (now - since)
        try:
            done, _ = await asyncio.wait({fut}, timeout=max(0.0, left))
            if not done and not item.started:
                raise self._busy(f"the server could not start this request within {self.cfg.deadline_s:g} s; "
                                 "retry later")
            return await fut
        finally:
            if not fut.done():  # the deadline passed, or the client went away (this task was cancelled)
                fut.cancel()
                self._forget(item)

    def _count(self, delta: int) -> None:
        self.waiting += delta
        self.metrics.set_queue(self.name, self.waiting)

    def _forget(self, item: _Item) -> None:
        """Take a request that will not be answered out of its group (if it is still waiting there)."""
        group = self.groups.get(item.key)
        if group is not None and item in group.items:
            group.items.remove(item)
            self._count(-1)
            if not group.items:
                del self.groups[item.key]

    def _take(self, group: _Group) -> list[_Item]:
        """The next batch of a group: at most max_batch requests and max_run_pixels pixels (always at least one)."""
        batch, pixels = [], 0
        for it in group.items:
            if batch and (len(batch) >= self.cfg.max_batch or pixels + it.pixels > self.cfg.max_run_pixels):
                break
            batch.append(it)
            pixels += it.pixels
        return batch

    def _due(self, now: float) -> list:
        """The groups to dispatch now: their window is over, they are full (images or pixels), or the server drains."""
        return [k for k, g in self.groups.items()
                if g.deadline <= now or self._closing or len(g.items) >= self.cfg.max_batch
                or sum(it.pixels for it in g.items) >= self.cfg.max_run_pixels]

    async def _loop(self) -> None:
        while True:
            ready = self._due(time.monotonic())
            for key in ready:
                await self._slots.acquire()  # at most `workers` batches in flight; the rest keep filling
                group = self.groups.pop(key, None)
                batch = self._take(group) if group else []
                if group and len(batch) < len(group.items):  # an over-full group: the remainder is due now
                    self.groups[key] = _Group(items=group.items[len(batch):], deadline=time.monotonic())
                self._count(-len(batch))
                batch = [it for it in batch if not it.future.done()]
                if batch:
                    self._dispatch(key, batch)
                else:
                    self._slots.release()
            if self._closing and not self.groups:
                return
            if ready:
                continue
            nearest = min((g.deadline for g in self.groups.values()), default=None)
            self._wake.clear()
            try:
                timeout = None if nearest is None else max(0.0, nearest - time.monotonic())
                await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    def _run(self, key, payloads: list) -> list:
        """In the executor: the batch in one run; if that fails, each request on its own (a failure stays its own)."""
        try:
            return self.run_batch(key, payloads)
        except Exception as e:
            if len(payloads) == 1:
                return [_Failed(e)]
        out = []
        for p in payloads:
            try:
                out.append(self.run_batch(key, [p])[0])
            except Exception as e:  # noqa: PERF203 — one request's failure, kept for its own answer
                out.append(_Failed(e))
        return out

    def _dispatch(self, key, batch: list[_Item]) -> None:
        self.metrics.observe("styleforge_batch_size", len(batch), model=self.name)
        for it in batch:
            it.started = True
        job = asyncio.get_running_loop().run_in_executor(self.executor, self._run, key, [it.payload for it in batch])
        self.inflight.add(job)

        def done(f):
            self.inflight.discard(f)
            self._slots.release()
            error = f.exception()
            results = None if error is not None else f.result()
            for i, it in enumerate(batch):
                if it.future.done():  # its client went away meanwhile
                    continue
                r = error if error is not None else results[i]
                if isinstance(r, _Failed):
                    r = r.error
                if isinstance(r, BaseException):
                    it.future.set_exception(r)
                else:
                    it.future.set_result((r, len(batch)))

        job.add_done_callback(done)

    async def close(self) -> None:
        """Refuse new requests, dispatch every waiting one whose client is still there, and wait for the batches in
        flight."""
        self._closing = True
        self._wake.set()
        await self._task
        if self.inflight:
            await asyncio.gather(*self.inflight, return_exceptions=True)
