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



def tuned_order(bundle, names: list[str]) -> tuple[list[str], dict, str]:
    """``auto``'s runner order for `bundle`: the tuning record's runner first on a matching host, with its options
    and a note; otherwise `names` unchanged, no options, and why the record was not used ("" without one)."""
    from .backends import runners

    name, options, note = tuned_choice(bundle)
    if bundle.manifest.tuning is None:
        return names, {}, ""
    if name is None:
        return names, {}, note
    if name not in runners():
        return names, {}, f"tuning record not used: it names runner {name!r}, which this runtime does not have"
    return [name] + [n for n in names if n != name], options, f"chosen by the {note}"
