"""Tolerance profiles of converted bundles: what validation allows an fp16 or int8 variant (or a uint8-I/O one)
against the ORIGINAL fp32 PyTorch golden outputs, per runtime interface, with the measurements they rest on
(images on [0, 255]; docs/deploy.md "Tolerance profiles").

A profile limits the loss the conversion may add: the measured worst case over the bundles below, with a margin.
Precision loss depends on the trained weights, so the bases name what was measured; a bundle that fails its
profile is reported, never silently accepted.
"""
from __future__ import annotations

import dataclasses

from ...runtime.interfaces import interface_spec
from ...runtime.manifest import Tolerance, TolerancePolicy, ToleranceProfile

#: The image-output limits of fp16 and int8 graphs vs PyTorch fp32 on the golden cases live with each interface
#: (its spec's ``convert_limits``, runtime/families/), each beside the measurement it rests on; fp16 *arithmetic* was
#: measured with the PyTorch module in half precision on the CPU, norms included (pessimistic: the graph keeps norms
#: and linear algebra fp32), since ONNX Runtime CPU runs most fp16 ops in fp32; limits sit 3-5x above the worst.
#: non-image outputs (WCT statistics, generator activations) of fp16 graphs: their fp32 limits × this
FP16_OTHER_FACTOR = 50.0
#: non-image outputs of int8 graphs (generator activations): only their direction is checked. Measured: tiny DCGAN
#: dissect activation cosine 0.9926 (max_abs 0.20 where the fp32 limit is 0.01).
#: (The absolute limits and PSNR are set to values that cannot fail rather than None, since None would fall back to
#: the profile's image limits.)
INT8_OTHER = Tolerance(max_abs=1e9, mean_abs=1e9, p99_abs=1e9, min_cosine=0.98, min_psnr=-1e9)

#: What rounding to uint8 adds to an image output compared with the float reference: at most 0.5 per value, so at
#: most 0.5 on average and an RMS of at most 0.5 (54.15 dB on its own). Values spread evenly give mean 0.25 and
#: 58.9 dB (measured 0.249–0.255 on the stylizers); an untrained generator whose pixels sit at 127.5 measured
#: mean 0.34 — so the limits are the bound itself, not the typical case.
UINT8_ROUNDING = Tolerance(max_abs=0.5, mean_abs=0.5, p99_abs=0.5, min_cosine=0.0, min_psnr=54.15)
UINT8_BASIS = ("; uint8 I/O: + rounding to whole grey levels (bound: ≤ 0.5 per value, mean ≤ 0.5, RMS ≤ 0.5 = "
               "54.15 dB on its own; typical mean 0.25, 58.9 dB)")


def with_rounding(t: Tolerance) -> Tolerance:
    """`t` widened by what rounding an output to uint8 can add (limits add up; PSNR combines the error powers)."""
    import math

    def psnr_sum(a: float | None) -> float | None:
        if a is None:
            return None
        mse = 255.0 ** 2 * (10 ** (-a / 10) + 10 ** (-UINT8_ROUNDING.min_psnr / 10))
        return round(10 * math.log10(255.0 ** 2 / mse), 2)

    r = UINT8_ROUNDING
    return Tolerance(max_abs=None if t.max_abs is None else t.max_abs + r.max_abs,
                     mean_abs=None if t.mean_abs is None else t.mean_abs + r.mean_abs,
                     p99_abs=None if t.p99_abs is None else t.p99_abs + r.p99_abs,
                     min_cosine=None if t.min_cosine is None else min(t.min_cosine, 0.9999),
                     min_psnr=psnr_sum(t.min_psnr))


def loosest(a: Tolerance | None, b: Tolerance | None) -> Tolerance | None:
    """Field by field the looser of two tolerances (None = not checked wins)."""
    if a is None or b is None:
        return a or b
    out = {}
    for f in dataclasses.fields(Tolerance):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if x is None or y is None:
            out[f.name] = None
        else:
            out[f.name] = min(x, y) if f.name.startswith("min_") else max(x, y)
    return Tolerance(**out)


def _scaled(t: Tolerance, factor: float) -> Tolerance:
    return Tolerance(max_abs=None if t.max_abs is None else t.max_abs * factor,
                     mean_abs=None if t.mean_abs is None else t.mean_abs * factor,
                     p99_abs=None if t.p99_abs is None else t.p99_abs * factor,
                     min_cosine=None if t.min_cosine is None else min(t.min_cosine, 0.999), min_psnr=None)


def in_units(t: Tolerance, scale: float) -> Tolerance:
    """A [0, 255] tolerance in the units of an output whose range spans 255·`scale` (absolute limits scaled)."""
    if scale == 1.0:
        return t
    return dataclasses.replace(t, **{k: None if getattr(t, k) is None else getattr(t, k) * scale
                                     for k in ("max_abs", "mean_abs", "p99_abs")})


def converted_policy(parent: TolerancePolicy, interface: str, precision: str, image_outputs: dict[str, float],
                     uint8_outputs: set[str], fp32_outputs: set[str] = frozenset()) -> TolerancePolicy:
    """The tolerance policy of a converted bundle.

    fp32 (clean-up): the parent's profiles. fp16/int8: that precision's profile for image outputs, the parent's
    limits scaled by :data:`FP16_OTHER_FACTOR` for other outputs of fp16 graphs, the parent's own limits for
    outputs of graphs kept fp32 (`fp32_outputs`, e.g. WCT statistics in an int8 bundle). Image outputs that
    became uint8 (`uint8_outputs`) get the rounding allowance in every profile. `image_outputs`: {name: range
    span / 255} (the precision limits are on [0, 255]; float outputs in other units get them scaled)."""
    def widen(name: str, t: Tolerance) -> Tolerance:
        """An output that became uint8: its limit in grey levels, plus rounding."""
        return with_rounding(in_units(t, 1.0 / image_outputs.get(name, 1.0))) if name in uint8_outputs else t

    def profile(default: Tolerance, per_output: dict, basis: str) -> ToleranceProfile:
        per = {k: widen(k, v) for k, v in per_output.items()}
        per.update({k: widen(k, default) for k in uint8_outputs if k not in per})
        return ToleranceProfile(default=default, per_output=per, basis=basis + (UINT8_BASIS if uint8_outputs else ""))

    profiles = {name: profile(p.default, p.per_output, p.basis) for name, p in parent.profiles.items()}
    base = profile(parent.default, parent.per_output, parent.basis)
    if precision in ("fp16", "int8"):
        image, basis = interface_spec(interface).precision_limits(precision)
        per = {}
        for name, t in parent.per_output.items():
            if name in image_outputs:
                continue
            if name in fp32_outputs:
                per[name] = t
            else:
                per[name] = _scaled(t, FP16_OTHER_FACTOR) if precision == "fp16" else INT8_OTHER
        per.update({k: in_units(image, f) for k, f in image_outputs.items()})
        profiles[precision] = profile(image, per, basis)
    return TolerancePolicy(default=base.default, per_output=base.per_output, basis=base.basis, profiles=profiles)
