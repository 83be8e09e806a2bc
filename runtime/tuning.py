"""Reading and honouring a bundle's ``tuning`` record (written by ``styleforge tune``, export/tune/): torch-free.

``auto`` uses the record's runner and options only on the host the tuning was measured on — same CPU model and
the same kernel-deciding ISA flags (:data:`ISA_FLAGS`), and the same GPU where the winner is a GPU runner. On
another host it falls back to its rule (runtime/backends: :data:`AUTO_ORDER`), and ``doctor`` says why.
"""
from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

from .manifest import TunedHost

#: the CPU flags that change which kernels ONNX Runtime / OpenVINO pick (and so the measured winner)
ISA_FLAGS = ("avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
             "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve", "bf16", "i8mm")


@functools.lru_cache(maxsize=1)
def _cpuinfo() -> tuple[str, tuple[str, ...]]:
    """(CPU model name, its flags) from /proc/cpuinfo (Linux); the platform's processor string elsewhere."""
    model, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key in ("model name", "cpu model") and not model:
                model = value.strip()
            elif key in ("flags", "features"):
                flags.update(value.split())
    except OSError:
        pass
    return model or platform.processor() or platform.machine(), tuple(sorted(flags))


def host_info(gpu: str | None = None, driver: str | None = None) -> TunedHost:
    """This machine as a tuning record names it."""
    model, flags = _cpuinfo()
    return TunedHost(cpu=model, isa=[f for f in ISA_FLAGS if f in flags], cores=os.cpu_count() or 0,
                     gpu=gpu, driver=driver)


def host_mismatch(record, here: TunedHost | None = None) -> str:
    """Why `record` (a TuningRecord) was not made on this host, or "" when it was."""
    here = here or host_info()
    host = record.host
    if host.cpu != here.cpu:
        return f"tuned on {host.cpu!r}, this host is {here.cpu!r}"
    if sorted(host.isa) != sorted(here.isa):
        gone = sorted(set(host.isa) - set(here.isa))
        new = sorted(set(here.isa) - set(host.isa))
        return ("tuned on a CPU with different ISA flags (" + ", ".join(
            [f"missing here: {' '.join(gone)}"] * bool(gone) + [f"new here: {' '.join(new)}"] * bool(new)) + ")")
    if record.runner not in ("ort-cpu", "openvino") and host.gpu:
        from .doctor import gpu as gpu_info

        name = gpu_info().get("name")
        if name != host.gpu:
            return f"tuned on GPU {host.gpu!r}, this host has {name or 'no GPU'}"
    return ""


def tuned_choice(bundle) -> tuple[str | None, dict, str]:
    """(runner, options, note) that ``auto`` should use for `bundle`: the tuning record's winner on a matching
    host; (None, {}, why) without a record or on another host."""
    record = bundle.manifest.tuning
    if record is None:
        return None, {}, "no tuning record"
    why = host_mismatch(record)
    if why:
        return None, {}, f"tuning record not used: {why}"
    return record.runner, dict(record.options), f"tuning record ({record.time}, {record.tool})"


def open_tuned(bundle, role: str, options: dict):
    """An active runner for graph `role` as the tuning record says (record options under the caller's explicit
    ones), or (None, why) when there is no usable record or its runner cannot run this graph here."""
    from .backends import Selection, runner_class
    from .errors import StyleForgeError

    name, tuned, note = tuned_choice(bundle)
    if name is None:
        return None, note
    try:
        cls = runner_class(name)
    except StyleForgeError as e:
        return None, f"tuning record names runner {name!r}: {e}"
    verdict = cls.supports(bundle, role)
    if not verdict:
        return None, f"tuned runner {name} cannot run here: {verdict.why}"
    merged = {**tuned, **{k: v for k, v in options.items() if v is not None}}
    runner = cls(bundle, role, **merged).activate()
    runner.selection = Selection("auto", name, role, {"rule": f"chosen by the {note}"})
    return runner, note
