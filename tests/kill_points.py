"""kill -9 at random points of the commands that write bundles (export, convert, import-onnx, tiling add) over an
existing good bundle, and what must hold afterwards (issue 20, item 7): the bundle at the path opens with every
sha256 checked and is the old one or the new one, never neither, and a rerun succeeds. Used by
tests/test_safety_files.py (a few kills) and benchmarks/abuse_writes.py (50 per command)."""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Scenario:
    """One command writing `out`; `reset` (optional) puts the old bundle back before each kill."""

    name: str
    args: list[str]
    out: Path
    reset: object = None
    counts: dict = field(default_factory=lambda: {"kills": 0, "finished": 0, "old": 0, "new": 0, "broken": 0,
                                                  "reruns_ok": 0, "reruns_failed": 0})
    problems: list = field(default_factory=list)


def prepare(work: Path, run: Path | None = None) -> list[Scenario]:
    """A tiny stylizer run (or `run`, one already trained) and the four good bundles the scenarios overwrite (built
    in-process, once)."""
    import foreign_graphs as fg
    from helpers import torch_threads
    from styleforge.export.convert.api import convert_bundle
    from styleforge.export.core.api import export_checkpoint
    from styleforge.export.onnx_import.api import import_onnx
    from styleforge.train.stylizer.trainer import train_stylizer

    work.mkdir(parents=True, exist_ok=True)
    with torch_threads(1):
        if run is None:
            run = work / "run"
            train_stylizer(["sample:mosaic"], run, steps=1, size=32, batch=1, width_mult=0.125, progress=False)
        export_checkpoint(run, work / "exported.sfbundle")
    convert_bundle(work / "exported.sfbundle", work / "converted.sfbundle")
    (work / "tr.onnx").write_bytes(fg.nchw_pm1_translator())
    import_onnx(work / "tr.onnx", work / "imported.sfbundle", interface="translator", value_range="-1,1",
                output_name="out")
    plain, _ = convert_bundle(work / "exported.sfbundle", work / "plain.sfbundle", validate=False)  # no tiling graphs
    tiled = work / "tiling.sfbundle"

    def reset_tiling():
        shutil.rmtree(tiled, ignore_errors=True)
        shutil.copytree(plain, tiled)

    reset_tiling()
    return [
        Scenario("export", ["export", run, "--out", work / "exported.sfbundle"], work / "exported.sfbundle"),
        Scenario("convert", ["convert", work / "exported.sfbundle", "--precision", "fp16", "--out",
                             work / "converted.sfbundle"], work / "converted.sfbundle"),
        Scenario("import-onnx", ["import-onnx", work / "tr.onnx", "--interface", "translator", "--range=-1,1",
                                 "--output", "out", "--out", work / "imported.sfbundle"], work / "imported.sfbundle"),
        Scenario("tiling add", ["tiling", "add", tiled], tiled, reset=reset_tiling),
    ]


def command(args) -> list[str]:
    return [sys.executable, "-m", "styleforge.runtime.cli", *map(str, args)]


ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")


def state(out: Path, old_manifest: bytes | None) -> str:
    """``old``, ``new``, or ``broken: why`` for the bundle at `out` (opened with every sha256 checked)."""
    from styleforge.runtime.bundle import open_bundle

    try:
        open_bundle(out, patience=0)
    except Exception as e:  # anything at all: the point is that it never happens
        return f"broken: {e}"
    return "old" if (out / "manifest.json").read_bytes() == old_manifest else "new"


def _writing(s: Scenario) -> bool:
    """Has the command started writing? (a staging folder beside --out, or a new file inside the bundle)"""
    if any(s.out.parent.glob(f".{s.out.name}.*")):
        return True
    return s.name == "tiling add" and any(p.name.startswith(("stylize.stats", "stylize.tiling", ".")) and
                                          p.name != ".styleforge-update.lock" for p in s.out.iterdir())


def kill_once(s: Scenario, rng: random.Random, *, duration: float, while_writing: bool = False,
              timeout: float = 300) -> str:
    """Run the command and SIGKILL it: at a uniform random time in [0, `duration`) s, or (`while_writing`) a
    uniform 0-150 ms after it starts writing. Returns the state of the bundle afterwards (and counts it)."""
    if s.reset is not None:
        s.reset()
    old = (s.out / "manifest.json").read_bytes()
    proc = subprocess.Popen(command(s.args), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    start = time.monotonic()
    if while_writing:
        while proc.poll() is None and not _writing(s) and time.monotonic() - start < timeout:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.15))
    else:
        deadline = start + rng.uniform(0, duration)
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        s.counts["kills"] += 1
    else:
        s.counts["finished"] += 1
    _, err = proc.communicate()
    if proc.returncode not in (0, -signal.SIGKILL):
        s.problems.append(f"exit {proc.returncode}: {err.decode(errors='replace').strip()[-300:]}")
    st = state(s.out, old)
    s.counts["broken" if st.startswith("broken") else st] += 1
    if st.startswith("broken"):
        s.problems.append(st)
    return st


def rerun(s: Scenario) -> bool:
    """Run the command to the end: it must succeed and leave a bundle that opens with every sha256 checked."""
    p = subprocess.run(command(s.args), env=ENV, capture_output=True, text=True, timeout=600)
    ok = p.returncode == 0 and not state(s.out, None).startswith("broken")
    if s.name == "tiling add" and ok:
        from styleforge.runtime.bundle import open_bundle

        ok = bool(open_bundle(s.out).manifest.tiling)
    s.counts["reruns_ok" if ok else "reruns_failed"] += 1
    if not ok:
        s.problems.append(f"rerun exit {p.returncode}: {p.stderr.strip()[-300:]}")
    return ok


def timed_run(s: Scenario) -> float:
    """Seconds one uninterrupted run takes (the range random kills are drawn from)."""
    if s.reset is not None:
        s.reset()
    t = time.monotonic()
    subprocess.run(command(s.args), env=ENV, capture_output=True, timeout=600, check=True)
    return time.monotonic() - t


def leftovers(s: Scenario) -> list[str]:
    """Hidden staging folders beside --out (a killed run's, until the next run of the same command sweeps them)."""
    return sorted(p.name for p in s.out.parent.glob(f".{s.out.name}.*"))
