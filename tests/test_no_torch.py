"""styleforge.runtime and the runtime subcommands must work with torch unavailable."""
import subprocess
import sys
import textwrap

import pytest

from helpers import write_scale_bundle

pytestmark = pytest.mark.runtime  # runs with the runtime alone too (.ci/run's second step)

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
    """`styleforge … --help` of every command and subcommand prints its usage and exits 0 with torch, onnx, SciPy,
    scikit-image and scikit-learn all unavailable, and none of them is imported."""
    p = _run("""
        import argparse, contextlib, io
        for m in ('onnx', 'scipy', 'skimage', 'sklearn'):
            sys.modules[m] = None
        from styleforge.runtime.cli import build_cli, main

        def commands(parser, prefix=()):
            for action in parser._actions:
                if isinstance(action, argparse._SubParsersAction):
                    for name, sub in action.choices.items():
                        yield prefix + (name,)
                        yield from commands(sub, prefix + (name,))

        cmds = list(commands(build_cli().parser))
        assert len(cmds) > 30, cmds
        for cmd in [()] + cmds:
            out = io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit) as _:
                try:
                    main([*cmd, "--help"])
                except SystemExit as e:
                    assert e.code == 0, (cmd, e.code)
                    raise
            text = out.getvalue()
            assert text.startswith("usage: styleforge" + "".join(" " + c for c in cmd)), (cmd, text[:200])
        loaded = [k for k, v in sys.modules.items() if v is not None and k.split('.')[0] in
                  ('torch', 'onnx', 'scipy', 'skimage', 'sklearn')]
        assert loaded == [], loaded
        print("ok", len(cmds))
    """)
    assert p.returncode == 0 and p.stdout.startswith("ok"), p.stdout[-2000:] + p.stderr[-2000:]


def test_commands_that_need_an_extra_say_which_in_one_line(tmp_path):
    """Issue 14 #5: on a runtime-only install (`pip install styleforge`: no torch, no scikit-image) the training,
    export and sample commands end in one line naming the extra, not in a ModuleNotFoundError traceback."""
    p = _run(f"""
        for m in ('skimage',):
            sys.modules[m] = None
        import contextlib, io
        from styleforge.runtime.cli import main
        out = {{}}
        for argv in (["train", "stylizer", "--style", "sample:mosaic", "--out", {str(tmp_path / "r")!r}],
                     ["train", "gan", "--method", "dcgan", "--out", {str(tmp_path / "g")!r}],
                     ["samples", "--out", {str(tmp_path / "s")!r}],
                     ["demo", "--out", {str(tmp_path / "d")!r}]):
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                rc = main(argv)
            lines = err.getvalue().strip().splitlines()
            assert rc == 2 and len(lines) == 1 and 'pip install "styleforge[train]"' in lines[0], (argv, rc, lines)
            assert f"`styleforge {{argv[0]}}" in lines[0], lines
        print("ok")
    """)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stdout[-2000:] + p.stderr[-3000:]


def test_cli_errors_are_one_line(cli, tmp_path):
    p = cli("validate", tmp_path / "missing.sfbundle")
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "no such bundle" in p.stderr and "Traceback" not in p.stderr
