"""Start `styleforge serve` in a subprocess on a free loopback port and wait until it is ready (tests, load test)."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(*args, log: Path, env: dict | None = None, api_key: str | None = None, ready_timeout: float = 120):
    """Yield ``(base_url, process)``; SIGTERM (graceful drain) at the end if still running."""
    import httpx

    port = free_port()
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    out = open(log, "w")
    proc = subprocess.Popen([sys.executable, "-m", "styleforge.runtime.cli", "serve", *map(str, args), "--port", str(port)],
                            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    t0 = time.monotonic()
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(base + "/readyz", headers=headers, timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
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
