"""A throwaway `redis-server` on a free loopback port, for tests and benchmarks."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisProcess:
    """One redis-server on a fixed port that can be killed and started again on that port.

    With `durable`, every write is appended and fsynced (AOF, `appendfsync always`), so a
    `kill -9` loses nothing, as with a production Redis that persists.
    """

    def __init__(self, workdir: Path, *, durable: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed; .ci/run installs it (apt-get install redis-server)"
            )
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if durable else [
            "--appendonly", "no"]
        self._command = [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                         *persistence, "--dir", str(workdir)]
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            self._command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL, as a crash would; no chance to save or close connections cleanly."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=10)
            self._proc = None

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None


@contextmanager
def redis_process(*, durable: bool = False) -> Iterator[RedisProcess]:
    """A started `RedisProcess` in a temporary directory; stopped afterwards."""
    with tempfile.TemporaryDirectory() as workdir:
        server = RedisProcess(Path(workdir), durable=durable)
        server.start()
        try:
            yield server
        finally:
            server.stop()


@contextmanager
def redis_server() -> Iterator[str]:
    """Start `redis-server` on 127.0.0.1 and yield its URL; stop it afterwards."""
    with redis_process() as server:
        yield server.url
