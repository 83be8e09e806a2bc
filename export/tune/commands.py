"""`styleforge tune`: the fastest way this host runs a bundle at a PSNR floor, written as a bundle with a tuning record."""
from __future__ import annotations

import json
import sys

from ...runtime.errors import StyleForgeError


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """"512" → [(512, 512)]; "256,512x384" → [(256, 256), (512, 384)]."""
    out = []
    for part in filter(None, (p.strip() for p in str(text).split(","))):
        h, _, w = part.partition("x")
        try:
            size = (int(h), int(w or h))
        except ValueError:
            raise StyleForgeError(f"--sizes: {part!r} is not N or HxW") from None
        if min(size) < 1 or max(size) > 8192:
            raise StyleForgeError(f"--sizes: {part!r} must be between 1 and 8192 pixels a side")
        out.append(size)
    if not out:
        raise StyleForgeError("--sizes: give at least one size")
    return out


def register(cli) -> None:
    p = cli.command("tune", help="measure every runner × precision × option this host can run; write the fastest "
                                 "meeting a PSNR floor as a bundle with a tuning record",
                    description="Converts the fp32 bundle to fp32/int8/fp16 variants (styleforge convert), scores "
                                "each runner and option on them by the worst PSNR against the fp32 references (golden "
                                "cases; held-out photos, and textures as styles; the timed inputs at each size), times "
                                "those meeting --min-psnr in one interleaved run, and writes the fastest to --out with "
                                "a tuning record that `auto` honours on this host (docs/deploy.md \"Tuning\").")
    p.add_argument("bundle", help="an fp32 bundle (NAME.sfbundle)")
    p.add_argument("--out", required=True, help="bundle to write, e.g. NAME-tuned.sfbundle")
    p.add_argument("--min-psnr", type=float, default=40.0, help="quality floor in dB against the fp32 references")
    p.add_argument("--sizes", default="512", help="comma-separated sizes to time: N or HxW (default 512)")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads for every runner (default: theirs)")
    p.add_argument("--budget-s", type=float, default=600.0, help="stop searching after this many seconds")
    p.add_argument("--runs", type=int, default=7, help="interleaved timed runs per candidate and size")
    p.add_argument("--json", action="store_true", help="print the tuning record as JSON")
    p.add_argument("--plot", default=None, metavar="F.png", help="bar chart of the medians (needs matplotlib)")
    p.set_defaults(func=run_tune)


def format_table(record) -> str:
    from ...runtime.tables import Table, render_text

    sizes = ["x".join(map(str, s)) for s in record.sizes]
    table = Table(header=["runner", "precision", "options", *[f"{s} ms" for s in sizes], "PSNR dB", "worst case",
                          "floor", "note"],
                  title=f"tune on {record.host.cpu} ({record.host.cores} cores; {' '.join(record.host.isa)}), "
                        f"floor {record.min_psnr:g} dB, medians of interleaved runs")
    rows = table.rows
    for r in record.table:
        opts = " ".join(f"{k}={v}" for k, v in r.options.items())
        rows.append([r.runner, r.precision, opts, *[f"{r.median_ms[s]:.1f}" if s in r.median_ms else "-" for s in sizes],
                     ("∞" if r.meets_floor else "-") if r.psnr is None else f"{r.psnr:.1f}", r.worst or "",
                     "yes" if r.meets_floor else "no", r.note])
    return render_text(table)


def run_tune(args) -> int:
    from pathlib import Path

    from ...runtime.manifest import MANIFEST, to_dict
    from .api import tune_bundle

    out = Path(args.out)
    if out.exists() and not (out / MANIFEST).is_file():
        raise StyleForgeError(f"--out {out} exists and is not a bundle; refusing to replace it")
    if args.budget_s <= 0 or args.runs < 1:
        raise StyleForgeError("--budget-s must be positive and --runs at least 1")
    _, record = tune_bundle(args.bundle, out, min_psnr=args.min_psnr, sizes=parse_sizes(args.sizes),
                            threads=args.threads, budget_s=args.budget_s, runs=args.runs,
                            log=lambda msg: print(f"[tune] {msg}", file=sys.stderr, flush=True))
    if args.plot:
        from .plot import plot_record

        plot_record(record, args.plot)
    if args.json:
        print(json.dumps(to_dict(record), indent=2))
    else:
        print(format_table(record))
        print(f"winner: {record.variant} on {record.runner} {record.options}; wrote {out}")
    return 0
