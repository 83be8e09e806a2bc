"""Count the lines outside runtime/families/ and runtime/interfaces.py that branch on a runtime interface name
(issue 18: an interface owns its behaviour, so callers ask its spec instead of comparing names).

A branch is: a comparison (``==``, ``!=``, ``in``) with an interface-name string, a dict literal keyed by
interface names, or a tuple/list/set of two or more interface names (an allow-list or ``choices``).
Declarations (``interface="stylizer"`` in a family's exporter) are not branches.

    python3 benchmarks/interface_branches.py            # count, then one line per branch
    python3 benchmarks/interface_branches.py --count    # the count only
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCANNED = ("runtime", "export", "train")
EXCLUDED = ("runtime/families/", "runtime/interfaces.py")
#: the interface names of today; "graph" counts only in a comparison (it is also a common word)
NAMES = {"stylizer", "wct", "generator", "translator"}
COMPARED = NAMES | {"graph"}


def _strings(node) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [s for e in node.elts for s in _strings(e)]
    return []


def branch_lines(tree: ast.AST) -> set[int]:
    """Line numbers of the interface-name branches in one module's syntax tree."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for side in [node.left, *node.comparators]:
                if COMPARED & set(_strings(side)):
                    lines.add(node.lineno)
        elif isinstance(node, ast.Dict):
            lines.update(k.lineno for k in node.keys if k is not None and NAMES & set(_strings(k)))
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            if len(NAMES & set(_strings(node))) >= 2:
                lines.add(node.lineno)
    return lines


def scan(repo: Path = REPO) -> list[tuple[str, int, str]]:
    """(path, line, text) of every branch on an interface name in the scanned folders."""
    found = []
    for folder in SCANNED:
        for path in sorted((repo / folder).rglob("*.py")):
            rel = path.relative_to(repo).as_posix()
            if rel.startswith(EXCLUDED):
                continue
            text = path.read_text(encoding="utf-8")
            src = text.splitlines()
            for n in sorted(branch_lines(ast.parse(text))):
                found.append((rel, n, src[n - 1].strip()))
    return found


def main(argv: list[str]) -> int:
    found = scan()
    print(len(found))
    if "--count" not in argv:
        for rel, n, line in found:
            print(f"{rel}:{n}: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
