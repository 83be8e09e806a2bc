"""Tolerance profiles of converted bundles: what validation allows an fp16 or int8 variant (or a uint8-I/O one)
against the ORIGINAL fp32 PyTorch golden outputs, per runtime interface, with the measurements they rest on
(images on [0, 255]; docs/deploy.md "Tolerance profiles").

A profile limits the loss the conversion may add: the measured worst case over the bundles below, with a margin.
Precision loss depends on the trained weights, so the bases name what was measured; a bundle that fails its
profile is reported, never silently accepted.
"""
from __future__ import annotations

import dataclasses

from ...runtime.manifest import Tolerance, TolerancePolicy, ToleranceProfile

#: fp16 graphs vs PyTorch fp32 on the golden cases. ONNX Runtime CPU runs most fp16 ops in fp32 (validation says
#: which), so fp16 *arithmetic* was measured with the PyTorch module in half precision on the CPU, norms included
#: (pessimistic: the graph keeps norms and linear algebra fp32); the limits sit 3-5× above the worst of both.
FP16_IMAGE = {
    "stylizer": Tolerance(max_abs=4.0, mean_abs=0.4, p99_abs=1.5, min_cosine=0.99999, min_psnr=55.0),
    "translator": Tolerance(max_abs=2.0, mean_abs=0.2, p99_abs=1.0, min_cosine=0.99999, min_psnr=60.0),
    "generator": Tolerance(max_abs=0.5, mean_abs=0.1, p99_abs=0.3, min_cosine=0.99999, min_psnr=65.0),
    "wct": Tolerance(max_abs=32.0, mean_abs=2.0, p99_abs=10.0, min_cosine=0.9995, min_psnr=40.0),
}
FP16_BASIS = {
    "stylizer": "fp16 vs PyTorch fp32 (export/convert/profiles.py): module in half precision (CPU) max 0.96 mean 0.099 "
                "p99 0.385 PSNR>=65.8 (width 0.125, 4 steps), max 0.34 PSNR>=73.3 (demo, width 0.5); the fp16 graph on "
                "ORT CPU max<=0.20 PSNR>=77.8; limits 3-5x above",
    "translator": "fp16 vs PyTorch fp32: pix2pix (tiny) module in half precision max 0.18 mean 0.033 p99 0.118 PSNR>=75.5, "
                  "graph on ORT CPU max 0.056; limits ~10x above (CycleGAN's norms not measured separately)",
    "generator": "fp16 vs PyTorch fp32: DCGAN (tiny) module in half precision max 0.064 mean 0.026 PSNR>=78.5, graph on "
                 "ORT CPU max 0.0008; limits 5-8x above",
    "wct": "fp16 vs PyTorch fp32 NS pipeline, graph on ORT CPU (linear algebra fp32; weights fp16): see docs/deploy.md "
           "(five-level and two-level bundles); limits ~5x above to cover fp16 arithmetic on GPUs (5x the CPU error on "
           "the stylizer)",
}

#: int8 graphs (the interface's recipe, recipes.py) vs PyTorch fp32 on the golden cases, ONNX Runtime CPU.
INT8_IMAGE = {
    "stylizer": Tolerance(max_abs=64.0, mean_abs=3.0, p99_abs=16.0, min_cosine=0.9995, min_psnr=34.0),
    "translator": Tolerance(max_abs=32.0, mean_abs=2.5, p99_abs=12.0, min_cosine=0.9995, min_psnr=36.0),
    "generator": Tolerance(max_abs=8.0, mean_abs=1.0, p99_abs=4.0, min_cosine=0.9995, min_psnr=45.0),
    "wct": Tolerance(max_abs=64.0, mean_abs=4.0, p99_abs=20.0, min_cosine=0.998, min_psnr=32.0),
}
INT8_BASIS = {
    "stylizer": "int8 vs PyTorch fp32 (golden cases, ORT CPU): width 0.125 / 4 steps max 27.3 mean 1.80 p99 9.24 "
                "PSNR>=39.8 cos>=0.9999; demo width 0.5 max 7.0 mean 0.72 p99 3.25 PSNR>=47.6; imported Johnson-style "
                "test graph mean 0.62 PSNR>=49.2; limits: mean and PSNR ~1.7x / 6 dB beyond the worst, max not binding; "
                "re-measured with 7-bit weights on AMD EPYC (AVX2, no VNNI; tests/test_convert.py fixture): max 30.6 "
                "mean 1.86 p99 9.0 PSNR>=39.7 (8-bit weights there: 39.6 fused, 39.8 unfused)",
    "translator": "int8 vs PyTorch fp32: pix2pix (tiny) max 6.97 mean 0.93 p99 3.79 PSNR>=46.2; limits 2.5-4x / 10 dB",
    "generator": "int8 vs PyTorch fp32: DCGAN (tiny) max 0.73 mean 0.10 p99 0.71 PSNR>=63.5; limits ~10x / 18 dB",
    "wct": "int8 (coarsest level's decoder only) vs PyTorch fp32 NS pipeline: two-level tiny bundle max 22.1 mean 2.2 "
           "p99 9.7 PSNR>=37.9 cos>=0.9991; five-level bundle as fp32 (its level-5 decoder runs at 1/16 of the "
           "golden sizes); limits ~2x / 6 dB beyond the worst. Re-measured on AMD EPYC (AVX2, no VNNI) with 7-bit "
           "weights (int8.py: 8-bit weights saturate MLAS's int16 pair sums there, 79 max / 28.5 dB): two-level tiny "
           "bundle with uint8 I/O max 10.6 mean 1.32 p99 5.7 PSNR>=42.5 cos>=0.9996",
}
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
        image = (FP16_IMAGE if precision == "fp16" else INT8_IMAGE).get(interface, (FP16_IMAGE if precision == "fp16"
                                                                                   else INT8_IMAGE)["translator"])
        basis = (FP16_BASIS if precision == "fp16" else INT8_BASIS).get(interface, "")
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
