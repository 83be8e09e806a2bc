"""styleforge.runtime and the runtime subcommands must work with torch unavailable."""
import subprocess
import sys
import textwrap

from helpers import write_scale_bundle

BLOCK_TORCH = "import sys; sys.modules['torch'] = None  # any `import torch` now raises ImportError\n"


def _run(code: str):
    return subprocess.run([sys.executable, "-c", BLOCK_TORCH + textwrap.dedent(code)], capture_output=True, text=True, timeout=120)


def test_runtime_imports_and_runs_without_torch(tmp_path):
    b = write_scale_bundle(tmp_path / "s.sfbundle")
    p = _run(f"""
        import numpy as np
        from styleforge.runtime import load
        from styleforge.runtime.validation import validate_bundle
        m = load({str(b)!r}, backend="ort-cpu")
        out = m.run({{"image": np.full((1, 3, 8, 8), 100, np.float32)}})
        assert abs(out["stylized"].mean() - 60.0) < 1e-4, out["stylized"].mean()
        assert validate_bundle({str(b)!r}, write_report=False)["passed"]
        assert "torch" not in [k for k, v in sys.modules.items() if v is not None]
        print("ok")
    """)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


def test_cli_builds_and_validates_without_torch(tmp_path):
    b = write_scale_bundle(tmp_path / "s.sfbundle")
    p = _run(f"""
        from styleforge.runtime.cli import main
        rc = main(["validate", {str(b)!r}, "--no-write"])
        assert "torch" not in [k for k, v in sys.modules.items() if v is not None]
        sys.exit(rc)
    """)
    assert p.returncode == 0, p.stderr
    assert "PASS" in p.stdout


def test_cli_help_of_every_command_needs_no_torch():
    p = _run("""
        from styleforge.runtime.cli import build_cli
        cli = build_cli()
        assert [k for k, v in sys.modules.items() if v is not None and k.split('.')[0] in ('torch', 'onnx', 'scipy', 'skimage', 'sklearn')] == []
        print("ok")
    """)
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr


def test_cli_errors_are_one_line(cli, tmp_path):
    p = cli("validate", tmp_path / "missing.sfbundle")
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "no such bundle" in p.stderr and "Traceback" not in p.stderr
