"""Start `styleforge serve` in a subprocess on a free loopback port, wait until /readyz answers, and stop it with
SIGTERM (a graceful drain) at the end — for the tests, the load test (benchmarks/serve_load.py) and scripts.

    with running_server("mosaic.sfbundle", "--max-batch", "8", log="serve.log") as (base_url, process):
        ...
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(base: str, api_key: str | None) -> bool:
    req = urllib.request.Request(base + "/readyz", headers={"Authorization": f"Bearer {api_key}"} if api_key else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@contextlib.contextmanager
def running_server(*args, log: str | Path, env: dict | None = None, api_key: str | None = None,
                   ready_timeout: float = 120):
    """Yield ``(base_url, process)``; SIGTERM at the end if the process still runs (KILL after 60 s)."""
    port = free_port()
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    out = open(log, "w")
    proc = subprocess.Popen([sys.executable, "-m", "styleforge.runtime.cli", "serve", *map(str, args), "--port", str(port)],
                            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    base = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    try:
        while not _ready(base, api_key):
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() - t0 > ready_timeout:
                raise RuntimeError(f"server not ready after {ready_timeout} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        out.close()
