"""``tune --plot``: the tuning table as a bar chart (median latency per candidate and size; the winner marked)."""
from __future__ import annotations


def plot_record(record, path) -> None:
    """Write a horizontal bar chart of `record`'s timed rows to `path` (PNG; needs matplotlib, extra ``plot``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ...runtime.atomic import write_bytes

    sizes = ["x".join(map(str, s)) for s in record.sizes]
    rows = [r for r in record.table if r.median_ms]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) * len(sizes) + 1.5))
    labels, values, colors = [], [], []
    for r in rows:
        win = r.runner == record.runner and r.options == record.options and r.precision == record.variant
        opts = ",".join(f"{k}={v}" for k, v in r.options.items() if k != "threads")
        for s in sizes:
            if s in r.median_ms:
                labels.append(f"{r.precision} {r.runner} {opts} @{s} ({r.psnr} dB)")
                values.append(r.median_ms[s])
                colors.append("tab:green" if win else "tab:gray")
    ax.barh(range(len(values)), values, color=colors)
    ax.set_yticks(range(len(values)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("median latency, ms (green: the winner)")
    ax.set_title(f"styleforge tune on {record.host.cpu}", fontsize=9)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    write_bytes(path, buf.getvalue())
