"""Run the gateway under uvicorn (uvloop and httptools when available), with a bounded shutdown.

On SIGTERM the server stops accepting, lets in-flight requests finish for
`shutdown_grace_s`, and shortly before that ends every stream still open with an error event
(so callers learn it was cut, and each stream's bookkeeping settles its reservation); then the
process exits 0.

With several workers, uvicorn's supervisor starts them as fresh (spawned) processes; each is
handed the settings and the policy this process resolved (`router.workers.WorkerApp`), so a
worker reads neither the environment nor the policy file again.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
from collections.abc import Generator
from contextlib import contextmanager

import uvicorn
from uvicorn.supervisors import Multiprocess

from router.app import create_app
from router.policy.loader import read_policy
from router.redact import RedactingFilter
from router.runtime import RuntimeHolder
from router.settings import Settings
from router.store.state import check_deployment
from router.telemetry import share_metrics
from router.workers import WORKER_HEALTHCHECK_S, WorkerApp

log = logging.getLogger("junction")

SHUTDOWN_MESSAGE = "the gateway is shutting down; this stream was cut before it finished"


def configure_logging(level: str) -> None:
    """One line per request: httpx's own request lines stay below INFO, URLs are redacted."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    quiet_http_loggers()


def quiet_http_loggers() -> None:
    """httpx logs every request (the URL with any query secret) at INFO: keep it below."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def stream_cut_delay(grace_s: float) -> float:
    """When, after shutdown starts, open streams are cut: early enough that their error events
    are written before uvicorn's own deadline cancels what is left."""
    return max(grace_s - min(2.0, grace_s / 4), 0.0)


class GatewayServer(uvicorn.Server):
    """uvicorn's server, cutting open streams before the grace period ends and exiting 0."""

    def __init__(self, config: uvicorn.Config, executor: RuntimeHolder, grace_s: float) -> None:
        super().__init__(config)
        self._executor = executor
        self._grace_s = grace_s

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        loop = asyncio.get_running_loop()
        cut: list[asyncio.Task[int]] = []

        def cut_streams() -> None:
            cut.append(loop.create_task(self._executor.interrupt_streams(SHUTDOWN_MESSAGE)))

        handle = loop.call_later(stream_cut_delay(self._grace_s), cut_streams)
        try:
            await super().shutdown(sockets)
        finally:
            handle.cancel()
        if cut:
            log.warning("shutdown cut %d stream(s) still open after %.1fs", await cut[0],
                        stream_cut_delay(self._grace_s))

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        with super().capture_signals():
            yield
            # uvicorn re-raises the SIGTERM it caught, so the process dies by it (status -15);
            # a shutdown that went as planned is a clean exit.
            self._captured_signals.clear()


def run_gateway(settings: Settings) -> None:
    """Validate the policy first (so a bad file exits non-zero with its message), then serve."""
    source = read_policy(settings.policy_file)  # once per process: the app is handed it
    check_deployment(settings)
    configure_logging(settings.log_level)
    common: dict[str, object] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "access_log": False,  # Junction logs one line per request itself, without content
        "loop": "auto",
        "http": "auto",
        "timeout_keep_alive": 30,
        "timeout_graceful_shutdown": settings.shutdown_grace_s,
    }
    if settings.workers > 1:
        # One scrape of any worker must count every worker: they share their metrics
        # (prometheus_client's own multiprocess mode, which it reads from its environment
        # variable; the directory itself reaches the workers in their settings).
        shared, owned = share_metrics(settings.metrics_dir)
        try:
            # What uvicorn.run does for workers, except that the app is a picklable factory
            # object rather than an import string (which would have to rebuild the settings
            # from the environment in each worker).
            workers = uvicorn.Config(
                WorkerApp.of(settings.model_copy(update={"metrics_dir": shared}), source),
                factory=True, workers=settings.workers,
                timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
                **common,  # type: ignore[arg-type]
            )
            Multiprocess(workers, sockets=[workers.bind_socket()]).run()
        finally:
            if owned:
                shutil.rmtree(shared, ignore_errors=True)
        return
    app = create_app(settings, source=source)
    config = uvicorn.Config(app, **common)  # type: ignore[arg-type]
    GatewayServer(config, app.state.runtime, settings.shutdown_grace_s).run()
