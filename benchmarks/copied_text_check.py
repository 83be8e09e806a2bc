"""Does any file of the repository share a run of text with NVIDIA's TensorRT Python sources?

usage: python benchmarks/copied_text_check.py [--min 120] [NVIDIA_SOURCE_DIR ...]

Both sides are compared with all whitespace removed. The NVIDIA side is every ``.py`` file under the given folders,
by default the installed ``tensorrt-cu12-bindings`` wheel's ``tensorrt_bindings`` package (dev extra). Prints the
longest common run found (length, repository file, the run) and exits 1 when it reaches ``--min`` characters
(issue 21: StyleForge's code is its own; a shared message string is shorter than that).
"""
import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def nvidia_sources(folders) -> list[str]:
    if not folders:
        from importlib import metadata

        dist = metadata.distribution("tensorrt-cu12-bindings")
        folders = [Path(dist.locate_file("tensorrt_bindings"))]
    return [squeeze(p.read_text(errors="replace")) for f in folders for p in sorted(Path(f).rglob("*.py"))]


def repository_files() -> dict[str, str]:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    out = {}
    for name in filter(None, names):
        path = ROOT / name.decode()
        try:
            out[name.decode()] = squeeze(path.read_text())
        except (UnicodeDecodeError, OSError):
            continue  # binary files (images, graphs) hold no source text
    return out


def common_run(k: int, theirs: list[str], ours: dict[str, str]):
    """A (file, run) pair sharing k characters, or None."""
    grams = {t[i:i + k] for t in theirs for i in range(len(t) - k + 1)}
    for name, text in ours.items():
        for i in range(len(text) - k + 1):
            if text[i:i + k] in grams:
                return name, text[i:i + k]
    return None


def longest(theirs, ours, hi: int = 4096):
    """Binary search on the run length (a common run of k implies one of every shorter length)."""
    lo, best = 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        hit = common_run(mid, theirs, ours)
        if hit:
            lo, best = mid + 1, hit
        else:
            hi = mid - 1
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="*", type=Path)
    ap.add_argument("--min", type=int, default=120)
    args = ap.parse_args()
    theirs, ours = nvidia_sources(args.folders), repository_files()
    best = longest(theirs, ours)
    n = len(best[1]) if best else 0
    print(f"{len(ours)} repository files against {len(theirs)} NVIDIA source files: longest common run {n} characters"
          + (f" in {best[0]}: {best[1]!r}" if best else ""))
    return 1 if n >= args.min else 0


if __name__ == "__main__":
    sys.exit(main())
