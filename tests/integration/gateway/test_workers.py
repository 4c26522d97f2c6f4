"""`junction serve --workers 2`: every worker serves what the command line said.

The workers are spawned processes; the supervisor hands each the settings and the policy it
resolved. The test tells the workers apart by asking the kernel which process holds the server
side of each connection (/proc), so it needs no endpoint of its own.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[3]

POLICY = """
version: 1
models:
  only-on-the-command-line:
    backend: openai
    model: m
    endpoints: ["http://127.0.0.1:9/v1"]
    prices: {input_per_million: 1, output_per_million: 1}
routes:
  - name: default
    candidates: [only-on-the-command-line]
"""

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")


def children(pid: int) -> set[int]:
    """Processes whose parent is `pid`."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry.name))
    return found


def owner_of_connection(server_port: int, client_port: int, pids: set[int]) -> int | None:
    """Which of `pids` holds the server side of the loopback connection from `client_port`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if (int(local.rsplit(":", 1)[1], 16) == server_port
                    and int(remote.rsplit(":", 1)[1], 16) == client_port):
                inodes.add(f"socket:[{fields[9]}]")
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in inodes:
                    return pid
            except OSError:
                continue
    return None


@pytest.fixture
def two_workers(redis_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int,
                                                                  Path]]:
    policy = tmp_path / "from-the-command-line.yaml"
    policy.write_text(POLICY)
    port = free_port()
    env = {
        **os.environ,
        "JUNCTION_REDIS_URL": redis_url,  # several workers need a shared counter store
        # The environment names another policy: the command line's must win in every worker.
        "JUNCTION_POLICY_FILE": str(ROOT / "policies" / "default.yaml"),
        "JUNCTION_STATS__KEY_PREFIX": f"workers-{uuid.uuid4().hex}",
        "JUNCTION_ACCOUNTS__REDIS_PREFIX": f"workers-accounts-{uuid.uuid4().hex}",
        "JUNCTION_LOG_LEVEL": "info",  # the supervisor reports replaced workers at INFO
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "router.cli", "serve", "--config", str(policy), "--port",
             str(port), "--workers", "2"], cwd=ROOT, env=env, stdout=log,
            stderr=subprocess.STDOUT)
    try:
        yield proc, port, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_a_command_line_setting_reaches_both_workers(
    two_workers: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    proc, port, log_path = two_workers

    def log() -> str:
        return log_path.read_text(errors="replace")[-4000:]

    served: dict[int, list[str]] = {}
    deadline = time.monotonic() + 120
    while len(served) < 2:
        assert proc.poll() is None, f"junction serve exited with {proc.returncode}:\n{log()}"
        assert time.monotonic() < deadline, \
            f"answers from {len(served)} worker(s): {served}\n{log()}"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/v1/models")
            response = conn.getresponse()
            body = response.read()
        except OSError:
            time.sleep(0.2)  # not listening yet
            continue
        else:
            assert response.status == 200, body
            client_port = conn.sock.getsockname()[1]
            worker = owner_of_connection(port, client_port, children(proc.pid))
        finally:
            conn.close()
        if worker is not None:
            served[worker] = sorted(m["id"] for m in json.loads(body)["data"])
    assert proc.pid not in served
    for worker, models in served.items():
        # `auto` and the route's name, then the one model the command line's policy names.
        assert models == ["auto", "default", "only-on-the-command-line"], (worker, models)
    # A worker that missed its health ping is replaced ("died"); none was.
    assert "Started parent process" in log() and "died" not in log(), log()
