"""Python API of ``styleforge tune``: ``tune_bundle(src, out, min_psnr=40, sizes=[(512, 512)], ...)``.

1. Precision variants of the fp32 bundle through ``styleforge convert``'s public entry (``convert_bundle``): fp32
   clean-up, int8 with the recipe and with minmax calibration (calibrated on two sample photos, the other two held out), fp16;
   and int8 by NNCF's default quantisation (.nncf_variant) where nncf is installed; ``int8-ac``, the recipe with the
   most sensitive convs kept float until ``min_psnr`` holds on the calibration and check images
   (.accuracy_control, at most half of `budget_s`).
2. Every candidate (:mod:`.candidates`): quality, the worst case over the golden cases, held-out photos and
   textures, and the timed inputs at each size (:func:`.measure.golden_psnr`, :func:`.measure.quality_cases`),
   recorded with where it was; a candidate that fails to load or run is a row with its reason.
3. The candidates meeting ``min_psnr`` are timed together, interleaved, at each size (:mod:`.measure`).
4. The fastest of them (sum of its medians over the sizes; within 3 % of it, the most accurate) is copied to `out` with a :class:`TuningRecord`
   holding the host and the whole table. Progress and an ETA go to `log`; the search stops at `budget_s`
   (candidates not reached are rows that say so).
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from ...runtime.bundle import open_bundle, update_bundle
from ...runtime.errors import StyleForgeError
from ...runtime.manifest import TunedCandidate, TuningRecord
from .accuracy_control import BUDGET_SHARE as AC_BUDGET_SHARE
from .accuracy_control import kept_float_note
from .candidates import VARIANTS, Candidate, candidates, host_runners
from .measure import CALIBRATION, cases_psnr, golden_psnr, interleaved_medians, quality_cases, timed_call


def _size_key(size) -> str:
    return f"{size[0]}x{size[1]}"


def _variants(src: Path, work: Path, variants, log, calibration_size: int = 512, min_psnr: float = 40.0,
              deadline: float | None = None) -> dict[str, Path | str]:
    """{variant name: bundle path, or the reason it could not be made}; `deadline` bounds the int8-ac search."""
    from ..convert.api import convert_bundle

    out: dict[str, Path | str] = {}
    for precision, method in variants:
        name = precision + (f"-{method}" if method else "")
        log(f"converting: {name}")
        if method == "nncf":
            out[name] = _nncf_variant(out, work / f"{name}.sfbundle", calibration_size)
            continue
        if method == "ac":
            out[name] = _ac_variant(src, out, work / f"{name}.sfbundle", calibration_size, min_psnr, deadline, log)
            continue
        try:
            path, _ = convert_bundle(src, work / f"{name}.sfbundle", precision=precision, calibration=list(CALIBRATION),
                                     calibration_size=calibration_size, calibration_method=method, validate=False)
            out[name] = Path(path)
        except StyleForgeError as e:
            out[name] = f"convert failed: {e}"
    return out


#: candidates this close to the fastest are a tie (the spread of repeated runs here): the more accurate one wins
TIE = 0.03


def _winner(timed: list[int], rows: dict) -> int:
    """The fastest timed candidate (sum of medians over the sizes); within :data:`TIE` of it, the highest PSNR."""
    total = {i: sum(rows[i].median_ms.values()) for i in timed}
    fastest = min(total.values())
    close = [i for i in timed if total[i] <= fastest * (1 + TIE)]
    return max(close, key=lambda i: (float("inf") if rows[i].psnr is None else rows[i].psnr, -total[i]))


def _nncf_variant(made: dict, out: Path, calibration_size: int) -> Path | str:
    """The int8-nncf bundle (.nncf_variant) from the fp32 and int8 variants already made, or why not."""
    from ...train.core.samples import resolve_image
    from .nncf_variant import nncf_int8

    fp32, int8 = made.get("fp32"), made.get("int8")
    if not isinstance(fp32, Path) or not isinstance(int8, Path):
        return "needs the fp32 and int8 variants first"
    try:
        return nncf_int8(fp32, int8, out, [resolve_image(c, max_side=calibration_size) for c in CALIBRATION])
    except StyleForgeError as e:
        return f"not made: {e}"


def _ac_variant(src: Path, made: dict, out: Path, calibration_size: int, min_psnr: float, deadline, log) -> Path | str:
    """The int8-ac bundle (.accuracy_control) from the fp32 and int8 variants already made, or why not."""
    from ..convert.calibration import load_calibration
    from .accuracy_control import accuracy_controlled_int8

    fp32, int8 = made.get("fp32"), made.get("int8")
    if not isinstance(fp32, Path) or not isinstance(int8, Path):
        return "needs the fp32 and int8 variants first"
    try:
        images, _ = load_calibration(list(CALIBRATION), calibration_size)  # as convert calibrated the int8 variant
        return accuracy_controlled_int8(src, fp32, int8, out, images, min_psnr,
                                        deadline if deadline is not None else time.monotonic() + 600, log)
    except StyleForgeError as e:
        return f"not made: {e}"


class _Search:
    """The state of one tune run: the clock, the table, and the loaded models of the candidates still in."""

    def __init__(self, src: Path, budget_s: float, log):
        self.src, self.log = src, log
        self.start = time.monotonic()
        self.deadline = self.start + budget_s
        self.rows: dict[int, TunedCandidate] = {}
        self.models: dict[int, object] = {}
        self.phase_start = self.start  # the ETA extrapolates the current phase only (conversion is not scoring)

    def start_phase(self) -> None:
        self.phase_start = time.monotonic()

    def over_budget(self) -> bool:
        return time.monotonic() > self.deadline

    def eta(self, done: int, total: int) -> str:
        now = time.monotonic()
        left = (now - self.phase_start) / max(done, 1) * (total - done)
        return (f"{done}/{total}, {now - self.start:.0f} s spent, ETA of this phase {left:.0f} s "
                f"(budget {self.deadline - self.start:.0f} s)")

    def score(self, i: int, cand: Candidate, path, cases, refs, min_psnr: float) -> None:
        """Load candidate `i` and measure its quality; keeps the model when it meets the floor."""
        from ...runtime.model import load

        row = TunedCandidate(runner=cand.runner, precision=cand.variant, options=dict(cand.options), note=cand.note)
        self.rows[i] = row
        if isinstance(path, str):
            row.note = "; ".join(filter(None, [row.note, path]))
            return
        row.note = "; ".join(filter(None, [row.note, kept_float_note(path)]))
        try:
            worst, where = golden_psnr(path, cand.runner, cand.options)
            model = load(path, backend=cand.runner, **cand.options)
            worst, where = min((worst, where), cases_psnr(model, cases, refs), key=lambda v: v[0])
        except StyleForgeError as e:
            row.note = "; ".join(filter(None, [row.note, f"cannot run: {e}"]))
            return
        worst = float(worst)
        row.psnr = round(worst, 2) if worst != float("inf") else None
        row.worst = where if row.psnr is not None else None
        row.meets_floor = bool(worst >= min_psnr)
        if row.meets_floor:
            self.models[i] = model
        else:
            row.note = "; ".join(filter(None, [row.note, f"below the {min_psnr:g} dB floor"]))


def tune_bundle(src, out, *, min_psnr: float = 40.0, sizes=((512, 512),), threads: int | None = None,
                budget_s: float = 600.0, runs: int = 7, warmup: int = 1, runners: list[str] | None = None,
                variants=VARIANTS, calibration_size: int = 512, log=print) -> tuple[Path, TuningRecord]:
    """Measure every candidate and write the fastest meeting `min_psnr` to `out` (see the module docstring)."""
    from ...runtime.atomic import atomic_dir
    from ...runtime.model import load
    from ...runtime.tuning import host_info

    src, out = Path(src), Path(out)
    parent = open_bundle(src)
    if parent.manifest.precision != "fp32":
        raise StyleForgeError(f"{src}: tune starts from an fp32 bundle (this one is {parent.manifest.precision})")
    if out.resolve() == src.resolve():
        raise StyleForgeError("--out must differ from the bundle being tuned")
    interface = parent.interface
    runners = runners or host_runners()
    search = _Search(src, budget_s, log)
    with tempfile.TemporaryDirectory(prefix="styleforge-tune-") as tmp:
        paths = _variants(src, Path(tmp), variants, log, calibration_size, min_psnr,
                          search.start + budget_s * AC_BUDGET_SHARE)
        cases = quality_cases(parent.manifest, sizes)
        ref_model = load(paths.get("fp32") if not isinstance(paths.get("fp32"), str) else src, backend="ort-cpu")
        refs = [c.run(ref_model) for c in cases]
        cands = candidates(runners, threads, variants)
        search.start_phase()
        for i, cand in enumerate(cands):
            if search.over_budget():
                search.rows[i] = TunedCandidate(cand.runner, cand.variant, dict(cand.options), note="not measured: budget")
                continue
            search.score(i, cand, paths.get(cand.variant, "variant not made"), cases, refs, min_psnr)
            row = search.rows[i]
            log(f"scored {cands[i].label()}: PSNR {row.psnr} dB{f' ({row.worst})' if row.worst else ''} — "
                f"{search.eta(i + 1, len(cands))}")
        for size in sizes:
            calls = {i: timed_call(m, interface, tuple(size)) for i, m in search.models.items()}
            log(f"timing {len(calls)} candidates at {_size_key(size)}, {runs} interleaved runs")
            medians = interleaved_medians(calls, runs, warmup, search.deadline, log)
            for i, sec in medians.items():
                search.rows[i].median_ms[_size_key(size)] = round(sec * 1e3, 2)
        timed = [i for i in search.models if len(search.rows[i].median_ms) == len(sizes) and not cands[i].stand_in]
        if not timed:
            raise StyleForgeError(f"tune: no candidate met the {min_psnr:g} dB floor and was timed within the budget "
                                  "(lower --min-psnr or raise --budget-s)")
        best = _winner(timed, search.rows)
        win = search.rows[best]
        record = TuningRecord(tool="styleforge tune", time=time.strftime("%Y-%m-%dT%H:%M:%S%z"), host=host_info(),
                              runner=win.runner, options=dict(win.options), variant=win.precision, min_psnr=float(min_psnr),
                              sizes=[list(map(int, s)) for s in sizes], table=[search.rows[i] for i in sorted(search.rows)])
        for m in search.models.values():
            for s in list(m._sessions.values()):
                s.deactivate()
        with atomic_dir(out) as staged:
            shutil.copytree(paths[cands[best].variant], staged, dirs_exist_ok=True)
            update_bundle(staged, patch=lambda m: setattr(m, "tuning", record))
    log(f"winner: {cands[best].label()} — {win.median_ms} ms, PSNR {win.psnr} dB (worst: {win.worst}); wrote {out}")
    return out, record
