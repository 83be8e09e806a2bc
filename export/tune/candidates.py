"""What ``tune`` measures on this host: one :class:`Candidate` per (bundle precision variant, runner, options).

Runners are those whose ``probe()`` passes here (ort-cpu, openvino, and the GPU runners where present). Options
per runner: ONNX Runtime CPU with intra-op spinning off (StyleForge's default) and on (ONNX Runtime's default);
OpenVINO with the latency hint in f32 and, on fp32 graphs, with ``INFERENCE_PRECISION_HINT=bf16`` — measured
like anything else: on a CPU without native bf16 OpenVINO compiles it as f32, and the table says so.
"""
from __future__ import annotations

from dataclasses import dataclass, field

#: precision variants made with `styleforge convert`: ``int8`` with the interface recipe (percentile calibration)
#: and with minmax calibration instead; ``int8-nncf``: NNCF's default quantisation of the same graphs (nncf_variant.py);
#: ``int8-ac``: the recipe with the most sensitive convs kept float until tune's floor holds (accuracy_control.py)
VARIANTS = (("fp32", None), ("int8", None), ("int8", "minmax"), ("int8", "nncf"), ("int8", "ac"), ("fp16", None))


@dataclass
class Candidate:
    """One way to run the bundle: its variant (precision + int8 calibration method), runner and runner options."""

    precision: str
    method: str | None
    runner: str
    options: dict = field(default_factory=dict)
    note: str = ""
    #: measured, but not a real choice: what it asks for is not what runs (bf16 on a CPU without native bf16)
    stand_in: bool = False

    @property
    def variant(self) -> str:
        return self.precision + (f"-{self.method}" if self.method else "")

    def label(self) -> str:
        opts = " ".join(f"{k}={v}" for k, v in self.options.items())
        return f"{self.variant} on {self.runner}" + (f" ({opts})" if opts else "")


STAND_IN = "bf16 requested; this CPU has no native bf16, OpenVINO computes f32 (measured, never the winner)"


def runner_options(runner: str, precision: str, threads: int | None) -> list[tuple[dict, str]]:
    """(options, note) to measure for `runner` on a `precision` variant."""
    base = {"threads": threads} if threads else {}
    if runner == "ort-cpu":
        return [({**base, "spinning": False}, ""), ({**base, "spinning": True}, "ONNX Runtime's default spinning")]
    if runner == "openvino":
        from ...runtime.backends.openvino import native_bf16

        out = [({**base, "hint": "latency", "precision": "f32"}, "")]
        if precision == "fp32":
            out.append(({**base, "hint": "latency", "precision": "bf16"},
                        "" if native_bf16() else STAND_IN))
        return out
    return [(dict(base), "")]


def candidates(runners: list[str], threads: int | None, variants=VARIANTS) -> list[Candidate]:
    """Every candidate, fp32 first (its rows are the baseline), then the cheaper precisions."""
    out = []
    for precision, method in variants:
        for runner in runners:
            if precision == "fp16" and runner in ("ort-cpu",) and len(runners) > 1:
                note = "ONNX Runtime CPU runs most fp16 ops in fp32 (inserted casts)"
            else:
                note = ""
            for opts, why in runner_options(runner, precision, threads):
                out.append(Candidate(precision, method, runner, opts, "; ".join(filter(None, [note, why])),
                                     stand_in=why == STAND_IN))
    return out


def host_runners() -> list[str]:
    """Runners this host can use, CPU ones first (``ort-trt`` is left out: it compiles engines for minutes)."""
    from ...runtime.backends import available_backends

    have = available_backends()
    order = ["ort-cpu", "openvino", "tensorrt", "ort-cuda"]
    return [r for r in order if r in have]
