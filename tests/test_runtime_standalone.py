"""styleforge.runtime stands alone: it imports nothing from train or export at module level, and a bundle
loads, runs and is served by the CLI with torch, styleforge.train and styleforge.export all unavailable
(what lets the runtime ship as its own wheel)."""
import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from helpers import write_scale_bundle

pytestmark = pytest.mark.runtime  # runs with the runtime alone too (.ci/run's second step)

RUNTIME = Path(__file__).resolve().parents[1] / "runtime"
BLOCK = ("import sys\n"
         "for name in ('torch', 'styleforge.train', 'styleforge.export'):\n"
         "    sys.modules[name] = None  # any import of these now raises ImportError\n")


def _run(code: str):
    return subprocess.run([sys.executable, "-c", BLOCK + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)


def _module_level_imports(path: Path, root: Path = RUNTIME) -> list[str]:
    """Modules imported at module level (not inside functions) by one source file under the runtime folder `root`,
    made absolute."""
    tree = ast.parse(path.read_text())
    rel = path.relative_to(root.parent).with_suffix("")
    package = ["styleforge"] + ["runtime"] + list(rel.parts[1:-1])
    out = []
    for node in tree.body:
        nodes = [node] + ([n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))]
                          if isinstance(node, (ast.If, ast.Try)) else [])
        for n in nodes:
            if isinstance(n, ast.Import):
                out += [a.name for a in n.names]
            elif isinstance(n, ast.ImportFrom):
                base = package[: len(package) - (n.level - 1)] if n.level else []
                out.append(".".join(base + ([n.module] if n.module else [])))
    return out


def test_no_runtime_module_imports_train_or_export_at_module_level():
    offenders = {}
    for path in sorted(RUNTIME.rglob("*.py")):
        bad = [m for m in _module_level_imports(path)
               if m.startswith(("styleforge.train", "styleforge.export", "torch"))]
        if bad:
            offenders[str(path.relative_to(RUNTIME.parent))] = bad
    assert offenders == {}


def test_the_check_above_would_see_an_offender(tmp_path):
    """The scan is not vacuous: a relative import of ...train at module level in runtime/families/ is found (in a
    copy of that layout under tmp_path; nothing is written into the source tree)."""
    fake = tmp_path / "runtime" / "families" / "_probe_for_test.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("import os\nfrom ...train.core import samples\n\ndef f():\n    import torch\n")
    assert _module_level_imports(fake, root=tmp_path / "runtime") == ["os", "styleforge.train.core"]


def test_bundle_loads_and_runs_without_torch_train_or_export(tmp_path):
    b = write_scale_bundle(tmp_path / "s.sfbundle", interface="stylizer")
    img = tmp_path / "in.png"
    from PIL import Image

    Image.fromarray(np.full((10, 14, 3), 100, np.uint8)).save(img)
    p = _run(f"""
        import numpy as np
        from styleforge.runtime import load
        from styleforge.runtime.cli import main
        m = load({str(b)!r}, backend="ort-cpu")
        out = m(np.full((10, 14, 3), 100, np.uint8))
        assert out.shape == (10, 14, 3) and int(out[0, 0, 0]) == 60, out[0, 0]
        assert main(["stylize", {str(b)!r}, {str(img)!r}, "--out", {str(tmp_path / 'out.png')!r}]) == 0
        assert main(["validate", {str(b)!r}, "--no-write"]) == 0
        loaded = [k for k, v in sys.modules.items() if v is not None]
        assert not [k for k in loaded if k == "torch" or k.startswith(("styleforge.train", "styleforge.export"))], loaded
        print("ok")
    """)
    assert p.returncode == 0 and p.stdout.strip().endswith("ok"), p.stdout + p.stderr
    assert np.asarray(Image.open(tmp_path / "out.png")).mean() == pytest.approx(60.0)


def test_cli_without_train_and_export_layers_still_lists_runtime_commands():
    p = _run("""
        from styleforge.runtime.cli import build_cli, command_modules
        mods = command_modules()
        assert mods and all(m.startswith("styleforge.runtime.cli") for m in mods), mods
        cli = build_cli()
        names = set(cli._top.choices)
        assert {"stylize", "translate", "generate", "validate", "texture", "bench"} <= names, names
        print("ok")
    """)
    assert p.returncode == 0 and "ok" in p.stdout, p.stdout + p.stderr
