"""Prometheus text exposition (format 0.0.4) of the server's counters, histograms and gauge, written by hand:
five series do not need a client library, and a per-app object (no global registry) keeps several apps per
process (the tests) apart. Thread-safe."""
from __future__ import annotations

import threading

HELP = {
    "styleforge_requests_total": ("counter", "Inference requests by model and HTTP status code."),
    "styleforge_request_seconds": ("histogram", "Inference request latency, from arrival to response ready."),
    "styleforge_batch_size": ("histogram", "Images per graph run."),
    "styleforge_queue_depth": ("gauge", "Requests waiting to be batched, per model."),
    "styleforge_faults_total": ("counter", "Server faults (answered 500/503 with a request id) by model and kind."),
}
BUCKETS = {"styleforge_request_seconds": (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
           "styleforge_batch_size": (1, 2, 3, 4, 6, 8, 12, 16, 32, 64)}


def _labels(labels: dict) -> str:
    if not labels:
        return ""
    esc = {ord("\\"): "\\\\", ord("\n"): "\\n", ord('"'): '\\"'}
    return "{" + ",".join(f'{k}="{str(v).translate(esc)}"' for k, v in sorted(labels.items())) + "}"


def _num(x: float) -> str:
    if x == float("inf"):
        return "+Inf"
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


class Metrics:
    """``count(model, code)``, ``fault(model, kind)``, ``observe(name, value, model=…)``, ``set_queue(model, n)``;
    ``render()`` → text."""

    def __init__(self):
        self._lock = threading.Lock()
        self._requests: dict[tuple, int] = {}
        self._hists: dict[str, dict[tuple, list]] = {name: {} for name in BUCKETS}
        self._queue: dict[str, float] = {}
        self._faults: dict[tuple, int] = {}

    def count(self, model: str, code: int) -> None:
        with self._lock:
            k = (("code", str(code)), ("model", model))
            self._requests[k] = self._requests.get(k, 0) + 1

    def fault(self, model: str, kind: str) -> None:
        """One server fault of `kind` (out_of_memory, runner) on `model`."""
        with self._lock:
            k = (("kind", kind), ("model", model))
            self._faults[k] = self._faults.get(k, 0) + 1

    def observe(self, name: str, value: float, **labels) -> None:
        with self._lock:
            h = self._hists[name].setdefault(tuple(sorted(labels.items())), [[0] * len(BUCKETS[name]), 0.0, 0])
            for i, b in enumerate(BUCKETS[name]):
                if value <= b:
                    h[0][i] += 1
            h[1] += value
            h[2] += 1

    def set_queue(self, model: str, depth: int) -> None:
        with self._lock:
            self._queue[model] = depth

    def render(self) -> str:
        out: list[str] = []

        def head(name):
            kind, text = HELP[name]
            out.extend([f"# HELP {name} {text}", f"# TYPE {name} {kind}"])

        with self._lock:
            head("styleforge_requests_total")
            out += [f"styleforge_requests_total{_labels(dict(k))} {v}" for k, v in sorted(self._requests.items())]
            for name, series in self._hists.items():
                head(name)
                for k, (counts, total, n) in sorted(series.items()):
                    labels = dict(k)
                    out += [f"{name}_bucket{_labels({**labels, 'le': _num(b)})} {c}" for b, c in zip(BUCKETS[name], counts)]
                    out += [f"{name}_bucket{_labels({**labels, 'le': '+Inf'})} {n}",
                            f"{name}_sum{_labels(labels)} {_num(total)}", f"{name}_count{_labels(labels)} {n}"]
            head("styleforge_faults_total")
            out += [f"styleforge_faults_total{_labels(dict(k))} {v}" for k, v in sorted(self._faults.items())]
            head("styleforge_queue_depth")
            out += [f"styleforge_queue_depth{_labels({'model': m})} {_num(v)}" for m, v in sorted(self._queue.items())]
        return "\n".join(out) + "\n"
