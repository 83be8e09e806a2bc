"""Shared fixtures: tiny sizes keep the suite fast on 2 CPU cores."""
import os
import subprocess
import sys

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")


def run_cli(*args, env=None, check=False, timeout=600):
    """Run `python -m styleforge.runtime.cli ARGS` in a subprocess; returns CompletedProcess."""
    e = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    p = subprocess.run([sys.executable, "-m", "styleforge.runtime.cli", *map(str, args)], capture_output=True,
                       text=True, env=e, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"styleforge {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


@pytest.fixture
def cli():
    return run_cli
