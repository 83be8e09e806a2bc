"""Dynamic batching: concurrent requests of one model that can share a graph run (same key: image size, and any
option that must be equal inside a run) are gathered until ``max_batch`` of them wait or the oldest has waited
``max_delay_ms``, then run as one batch in an inference thread pool (ONNX Runtime releases the GIL, so the event
loop keeps accepting). At most ``workers`` batches run at once; meanwhile the others keep filling, which is what
makes batches grow under load. A full queue refuses new requests (503 + Retry-After) instead of growing."""
from __future__ import annotations

import asyncio
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


@dataclass
class _Group:
    items: list = field(default_factory=list)
    deadline: float = 0.0


class DynamicBatcher:
    """Batches for one model. ``await submit(key, payload)`` → ``(result, batch size)``; ``run_batch(key, payloads)``
    runs in `executor` and returns one result per payload (if it raises, every request of the batch gets the error).
    Create it inside the running event loop."""

    def __init__(self, name: str, run_batch: Callable, executor: Executor, cfg: ServeConfig, metrics: Metrics):
        self.name, self.run_batch, self.executor, self.cfg, self.metrics = name, run_batch, executor, cfg, metrics
        self.groups: dict[object, _Group] = {}
        self.waiting = 0
        self.inflight: set = set()
        self._wake = asyncio.Event()
        self._closing = False
        self._slots = asyncio.Semaphore(max(1, cfg.workers))
        self._task = asyncio.get_running_loop().create_task(self._loop(), name=f"batcher-{name}")
        metrics.set_queue(name, 0)

    def _busy(self, why: str) -> ApiError:
        return ApiError(503, why, {"Retry-After": str(self.cfg.retry_after_s)})

    async def submit(self, key, payload, *, alone: bool = False):
        """Queue one request; `alone`: never batched with others (dispatched at once)."""
        if self._closing:
            raise self._busy("server is shutting down")
        if self.waiting >= self.cfg.queue:
            raise self._busy(f"queue full ({self.cfg.queue} requests waiting for model {self.name}); retry later")
        fut = asyncio.get_running_loop().create_future()
        now = time.monotonic()
        if alone:
            key = ("alone", id(fut))
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = _Group(deadline=now if alone else now + self.cfg.max_delay_ms / 1000.0)
        group.items.append(_Item(payload, fut))
        self.waiting += 1
        self.metrics.set_queue(self.name, self.waiting)
        self._wake.set()
        return await fut

    async def _loop(self) -> None:
        while True:
            now = time.monotonic()
            ready = [k for k, g in self.groups.items()
                     if len(g.items) >= self.cfg.max_batch or g.deadline <= now or self._closing]
            for key in ready:
                await self._slots.acquire()  # at most `workers` batches in flight; the rest keep filling
                group = self.groups.pop(key)
                batch, rest = group.items[:self.cfg.max_batch], group.items[self.cfg.max_batch:]
                if rest:  # an over-full group: the remainder is due now
                    self.groups[key] = _Group(items=rest, deadline=time.monotonic())
                self.waiting -= len(batch)
                self.metrics.set_queue(self.name, self.waiting)
                self._dispatch(key, batch)
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

    def _dispatch(self, key, batch: list[_Item]) -> None:
        self.metrics.observe("styleforge_batch_size", len(batch), model=self.name)
        job = asyncio.get_running_loop().run_in_executor(self.executor, self.run_batch, key, [it.payload for it in batch])
        self.inflight.add(job)

        def done(f):
            self.inflight.discard(f)
            self._slots.release()
            error = f.exception()
            for i, it in enumerate(batch):
                if not it.future.done():
                    if error is not None:
                        it.future.set_exception(error)
                    else:
                        it.future.set_result((f.result()[i], len(batch)))

        job.add_done_callback(done)

    async def close(self) -> None:
        """Refuse new requests, dispatch every waiting one, and wait for the batches in flight."""
        self._closing = True
        self._wake.set()
        await self._task
        if self.inflight:
            await asyncio.gather(*self.inflight, return_exceptions=True)
