"""Serving an emulator (or any ASGI app) on loopback from a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from junction_emulate.app import EmulatorApp
from junction_emulate.asgi import hide_connection_cut_tracebacks

_START_TIMEOUT_S = 10.0


@contextmanager
def run_in_thread(
    app: Any, host: str = "127.0.0.1", port: int = 0, *, shutdown_timeout: int = 1
) -> Iterator[str]:
    """Serve `app` with uvicorn in a background thread; yield its base URL, e.g. http://127.0.0.1:PORT.

    The socket is bound here (port 0 = a free one) before the server starts, so the URL is
    known and connectable on entry. On exit an emulator first answers what it holds (hung or
    queued requests get a 503, running streams are cut); anything else still open after
    `shutdown_timeout` seconds is cancelled.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        bound_port = sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            host=host,
            port=bound_port,
            # None leaves logging configuration to the host process (pytest, the CLI).
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=shutdown_timeout,
        )
        server = uvicorn.Server(config)
        hide_connection_cut_tracebacks()
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=f"emulator-{bound_port}",
            daemon=True,
        )
        thread.start()
        try:
            _wait_started(server, thread)
            url_host = f"[{host}]" if ":" in host else host
            yield f"http://{url_host}:{bound_port}"
        finally:
            if isinstance(app, EmulatorApp):
                app.release_waiting()
            server.should_exit = True
            thread.join(timeout=shutdown_timeout + 5.0)
    finally:
        sock.close()


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the emulator's server thread exited before it started; see its log")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the emulator's server did not start within {_START_TIMEOUT_S:.0f} s"
            )
        time.sleep(0.005)
