"""Fault injection on the commands that write bundles (issue 20, item 7; docs/safety.md): export, convert,
import-onnx and tiling add, each over an existing good bundle, SIGKILLed N times (half at a uniform random time
over one run's duration, half a uniform 0-150 ms after the command starts writing), with a full rerun after every
10th kill and the last; then each on a full disk (a small tmpfs, root only). Afterwards the bundle must open with
every sha256 checked, old or new, never neither, every rerun must succeed, and a full disk must be one line.

    python benchmarks/abuse_writes.py --kills 50 --out abuse-writes     # writes abuse-writes/report.json

The scenarios and checks are tests/kill_points.py's (tests/test_safety_files.py runs a few of the same kills).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]


def kill_scenario(kp, s, kills: int, rng: random.Random) -> dict:
    duration = kp.timed_run(s)
    t = time.monotonic()
    for i in range(kills):
        kp.kill_once(s, rng, duration=duration * 1.1, while_writing=bool(i % 2))
        if (i + 1) % 10 == 0 or i == kills - 1:
            kp.rerun(s)
    return {**s.counts, "seconds_per_run": round(duration, 2), "wall_s": round(time.monotonic() - t, 1),
            "leftovers_after_rerun": kp.leftovers(s), "problems": s.problems[:5]}


def full_disk(kp, s, mnt: Path) -> dict:
    """The command once with --out on a tmpfs that has 16 KiB left: one line, the old bundle intact."""
    b = mnt / s.out.name
    shutil.rmtree(b, ignore_errors=True)
    if s.reset is not None:
        s.reset()
    shutil.copytree(s.out, b)
    before = (b / "manifest.json").read_bytes()
    free = shutil.disk_usage(mnt).free
    (mnt / "filler").write_bytes(b"\0" * max(0, free - 16 * 1024))
    args = [b if str(a) == str(s.out) else a for a in s.args]
    p = subprocess.run(kp.command(args), env=kp.ENV, capture_output=True, text=True, timeout=600)
    (mnt / "filler").unlink()
    err = p.stderr.strip().splitlines()
    state = kp.state(b, before)
    out = {"exit": p.returncode, "stderr_lines": len(err), "last_line": err[-1] if err else "", "bundle": state,
           "left_on_disk": sorted(q.name for q in mnt.iterdir() if q.name != b.name)}
    shutil.rmtree(b, ignore_errors=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=50, help="kills per command")
    ap.add_argument("--out", default="abuse-writes", help="work folder (report.json is written there)")
    ap.add_argument("--only", nargs="*", default=None, help="scenario names (export, convert, import-onnx, tiling add)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    import sfpath

    sfpath.install()
    import kill_points as kp

    work = Path(args.out).resolve()
    shutil.rmtree(work / "work", ignore_errors=True)
    scenarios = kp.prepare(work / "work")
    if args.only:
        scenarios = [s for s in scenarios if s.name in args.only]
    rng = random.Random(args.seed)
    report = {"kills_per_command": args.kills, "load_before": os.getloadavg(), "commands": {}, "full_disk": {}}
    for s in scenarios:
        report["commands"][s.name] = kill_scenario(kp, s, args.kills, rng)
        print(s.name, json.dumps(report["commands"][s.name]), flush=True)
    mnt = work / "tmpfs"
    mnt.mkdir(exist_ok=True)
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)],
                                                   capture_output=True).returncode == 0
    if mounted:
        try:
            for s in scenarios:
                report["full_disk"][s.name] = full_disk(kp, s, mnt)
                print("full disk", s.name, json.dumps(report["full_disk"][s.name]), flush=True)
        finally:
            subprocess.run(["umount", str(mnt)], capture_output=True)
    else:
        report["full_disk"] = "skipped: mounting a tmpfs needs root"
    report["load_after"] = os.getloadavg()
    (work / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    bad = [n for n, c in report["commands"].items() if c["broken"] or c["reruns_failed"]]
    print(f"wrote {work / 'report.json'}; " + (f"FAILED: {', '.join(bad)}" if bad else "never neither, every rerun ok"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
