"""Reports as tables: each report kind is turned into rows once (:func:`validation_table`,
:func:`bench_table`); the terminal (:func:`render_text`) and report.html (:func:`render_html`) draw the
same rows. A row shorter than the header is a note spanning the remaining columns."""
from __future__ import annotations

import html
from dataclasses import dataclass, field


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    title: str = ""
    footer: str = ""


def validation_table(report: dict) -> Table:
    """One row per (golden case, output) of a validation report."""
    chosen = sorted({r["chosen"] for r in report.get("runners", {}).values()})
    runs_on = report["backend"] + (f" ({', '.join(chosen)})" if report["backend"] == "auto" and chosen else "")
    versus = f" vs {report['against']}" if report.get("against") else ""
    skipped = f" ({report['skipped']} case(s) skipped)" if report.get("skipped") else ""
    t = Table(["case", "output", "max_abs", "mean_abs", "p99_abs", "cosine", "psnr", "result"],
              title=f"{report['model']} ({report.get('interface', report['family'])}) on {runs_on}{versus}, tolerance profile "
                    f"{report.get('tolerance_profile', 'cpu-fp32')}",
              footer=("PASS" if report["passed"] else "FAIL" + (f": {report['error']}" if "error" in report else ""))
              + skipped)
    notes = sorted({c["note"] for c in report["cases"] if c.get("note")})
    if notes:
        t.footer += "".join(f"\nnote: {n}" for n in notes)
    for c in report["cases"]:
        if c.get("skipped"):
            t.rows.append([c["case"], f"skipped: {c['skipped']}"])
            continue
        if c.get("error"):
            t.rows.append([c["case"], f"error: {c['error']}  FAIL"])
            continue
        for o in c["outputs"]:
            if "shape_mismatch" in o:
                t.rows.append([c["case"], o["output"], f"shape mismatch {o['shape_mismatch']}  FAIL"])
                continue
            res = "ok" if o["passed"] else "FAIL (" + ", ".join(o["failed"]) + ")"
            res += " (note below)" if c.get("note") else ""
            t.rows.append([c["case"], o["output"], f"{o['max_abs']:.3g}", f"{o['mean_abs']:.3g}", f"{o['p99_abs']:.3g}",
                           f"{o['cosine']:.6f}", f"{o['psnr']:.1f}", res])
    return t


def bench_table(report: dict) -> Table:
    """One row per bundle × backend × size of a ``benchmark`` report, with its speed-up over the PyTorch row of the
    same size (``torch-eager`` / ``torch-exact``) and its PSNR against the first bundle's output."""
    from pathlib import Path

    t = Table(["bundle", "backend", "precision", "size", "median ms", "p90 ms", "vs torch", "PSNR dB"],
              title=f"styleforge bench: {report.get('threads') or 'default'} threads, {report['runs']} interleaved runs "
                    f"after {report['warmup']} warm-up; load {', '.join(f'{x:.2f}' for x in report.get('load_avg') or [])}")
    base = {r["size"]: r["median_ms"] for r in report["rows"]
            if r["backend"] in ("torch-eager", "torch-exact") and r.get("median_ms")}
    if base:
        t.footer = ("vs torch: the PyTorch eager row's median (torch-eager; WCT: torch-exact, the PytorchWCT-style "
                    "pipeline) over this row's, same size, same run. PSNR: against the first row's output")
    for r in report["rows"]:
        name = Path(r["bundle"]).name
        if r.get("median_ms") is None:
            t.rows.append([name, r["backend"], r["precision"], r["size"], f"not run: {r.get('error', '?')}"])
            continue
        ratio = f"{base[r['size']] / r['median_ms']:.2f}x" if r["size"] in base else "-"
        p = r.get("psnr_db")
        t.rows.append([name, r["backend"], r["precision"], r["size"], f"{r['median_ms']:.1f}", f"{r['p90_ms']:.1f}",
                       ratio, "-" if p is None else (p if isinstance(p, str) else f"{p:.1f}")])
    return t


def render_text(t: Table) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in t.rows if len(r) == len(t.header)]) for i, h in enumerate(t.header)]
    left = getattr(t, "left", 2)
    fmt = lambda cells: "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    lines = ([t.title] if t.title else []) + [fmt(t.header)]
    for r in t.rows:
        lines.append(fmt(r) if len(r) == len(t.header) else "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1])
    return "\n".join(lines + ([t.footer] if t.footer else []))


def render_html(t: Table) -> str:
    e = html.escape
    head = "<tr>" + "".join(f"<th>{e(h)}</th>" for h in t.header) + "</tr>"
    body = []
    for r in t.rows:
        cells = [f"<td>{e(c)}</td>" for c in r[:-1]]
        span = len(t.header) - len(r) + 1
        last = r[-1]
        cls = " class=fail" if "FAIL" in last else (" class=ok" if last == "ok" else "")
        cells.append(f"<td{cls}{f' colspan={span}' if span > 1 else ''}>{e(last)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table>{head}{''.join(body)}</table>"
