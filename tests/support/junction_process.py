"""`junction serve` as a real subprocess on a free loopback port, stopped when done."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def junction_serve(policy: Path, log_path: Path, environ: Mapping[str, str],
                   *args: str, ready_s: float = 90.0) -> Iterator[str]:
    """Start `junction serve --config POLICY` with `environ` added; yield its base URL once
    /health/live answers. SIGTERM at the end (so batched spans and workers shut down)."""
    port = free_port()
    log = log_path.open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "router.cli", "serve", "--config", str(policy),
         "--port", str(port), *args],
        cwd=ROOT, env={**os.environ, **environ}, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_s
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"junction serve exited {proc.returncode}:\n{log.read()}")
            try:
                if httpx.get(base + "/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"junction serve not live in {ready_s}s:\n{log.read()}")
            time.sleep(0.1)
        yield base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
