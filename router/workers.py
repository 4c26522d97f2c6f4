"""What `junction serve --workers N` hands each worker process: the settings and the policy the
supervisor resolved (command line over environment, the file read once).

uvicorn's supervisor pickles the app factory into every spawned worker, and a worker answers
the supervisor's health pings only once that has been unpickled. So this module imports nothing
heavy: the settings and policy travel as bytes and are unpickled, and the app built, inside
the worker when uvicorn calls the factory.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from router.policy.loader import PolicySource
    from router.settings import Settings

# How long the supervisor waits for a worker's answer to its health ping before it kills and
# replaces the worker. A worker answers only once it has started and unpickled this factory:
# when that imported the whole gateway, a worker on a busy 2-core machine missed uvicorn's 5 s
# and was replaced. The factory is light now; 30 s is the margin for a slow spawn.
WORKER_HEALTHCHECK_S = 30


@dataclass(frozen=True)
class WorkerApp:
    """The app factory each worker calls (uvicorn `factory=True`)."""

    payload: bytes

    @classmethod
    def of(cls, settings: Settings, source: PolicySource) -> WorkerApp:
        return cls(pickle.dumps((settings, source)))

    def resolved(self) -> tuple[Settings, PolicySource]:
        """The settings and policy source the supervisor handed over."""
        settings, source = pickle.loads(self.payload)  # our own parent wrote it
        return settings, source

    def __call__(self) -> FastAPI:
        from router.app import create_app
        from router.server import configure_logging

        settings, source = self.resolved()
        # A spawned worker starts with Python's logging unconfigured: set up Junction's own.
        configure_logging(settings.log_level)
        return create_app(settings, source=source)
