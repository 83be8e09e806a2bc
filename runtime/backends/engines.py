"""Which of a bundle's TensorRT engines can load on this GPU with this TensorRT (pure Python; used by the
``tensorrt`` runner's ``supports``, by ``doctor`` and by ``engine build``).

Rules (NVIDIA's "Engine compatibility" documentation, TensorRT 10/11):

- TensorRT version: an engine loads only in the exact version that built it ("By default, TensorRT engines
  are compatible only with the version of TensorRT used to build them"), compared verbatim
  (``10.16.1.11``). A ``version_compatible`` engine also loads in later versions of the same major.
- GPU: hardware compatibility ``none`` needs the same compute capability (and TensorRT warns across GPU
  models, so a different GPU name is reported); ``same_compute_capability`` the same compute capability;
  ``ampere_plus`` any GPU of compute capability 8.0 or later.
"""
from __future__ import annotations

import re

from ..errors import BundleError
from .base import Verdict


def version_tuple(v: str) -> tuple[int, ...]:
    """``"10.16.1.11"`` → (10, 16, 1, 11); trailing tags like ``.post1`` are ignored."""
    out = []
    for part in str(v).split("."):
        m = re.match(r"\d+", part)
        if not m:
            break
        out.append(int(m.group()))
    return tuple(out)


def cc_tuple(cc: str) -> tuple[int, int]:
    major, _, minor = str(cc).partition(".")
    return int(major or 0), int(minor or 0)


def engine_matches(record, *, trt_version: str, cc: str, gpu: str | None = None) -> Verdict:
    """Whether engine `record` (an EngineRecord) loads with TensorRT `trt_version` on a GPU of compute
    capability `cc` (named `gpu`); the verdict's text says why not, or notes a GPU-model difference."""
    built, here = version_tuple(record.tensorrt), version_tuple(trt_version)
    if record.version_compatible:
        if not (built and here and built[0] == here[0] and here >= built):
            return Verdict.no(f"built by TensorRT {record.tensorrt} (version-compatible: needs {built[0] if built else '?'}.x "
                              f">= {record.tensorrt}), this is {trt_version}")
    elif str(record.tensorrt) != str(trt_version):
        return Verdict.no(f"built by TensorRT {record.tensorrt}, this is {trt_version} (engines need the exact version)")
    level = record.hardware_compatibility
    if level == "ampere_plus":
        if cc_tuple(cc) < (8, 0):
            return Verdict.no(f"ampere_plus engine needs compute capability >= 8.0, this GPU is {cc}")
    elif cc_tuple(record.compute_capability) != cc_tuple(cc):
        return Verdict.no(f"built for compute capability {record.compute_capability}, this GPU is {cc}")
    note = ""
    if level == "none" and record.gpu and gpu and record.gpu != gpu:
        note = f"built on {record.gpu}, running on {gpu} (same compute capability; TensorRT advises building per GPU model)"
    return Verdict.yes(note)


def select_engine(manifest, role: str, cc: str, trt_version: str, gpu: str | None = None):
    """The first engine record for graph `role` that loads here, or a BundleError listing every candidate
    and why it does not."""
    candidates = [e for e in manifest.engines if e.role == role]
    reasons = []
    for e in candidates:
        v = engine_matches(e, trt_version=trt_version, cc=cc, gpu=gpu)
        if v:
            return e
        reasons.append(f"{e.file}: {v.why}")
    have = "; ".join(reasons) or "the bundle has no engine for it"
    raise BundleError(f"no TensorRT engine for graph {role!r} on compute capability {cc} with TensorRT {trt_version} "
                      f"({have}); build one here with `styleforge engine build BUNDLE --role {role}`")
