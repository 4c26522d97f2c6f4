"""Run the gateway under uvicorn (uvloop and httptools when available)."""

from __future__ import annotations

import logging
import os

import uvicorn

from router.app import create_app
from router.policy.loader import load_policy
from router.settings import Settings


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


def run_gateway(settings: Settings) -> None:
    """Validate the policy first (so a bad file exits non-zero with its message), then serve."""
    load_policy(settings.policy_file)
    configure_logging(settings.log_level)
    common: dict[str, object] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "access_log": False,  # Junction logs one line per request itself, without content
        "loop": "auto",
        "http": "auto",
        "timeout_keep_alive": 30,
    }
    if settings.workers > 1:
        # Workers rebuild the app from the environment, so pass the CLI's choices down.
        os.environ["JUNCTION_POLICY_FILE"] = str(settings.policy_file)
        os.environ["JUNCTION_HOST"] = settings.host
        os.environ["JUNCTION_PORT"] = str(settings.port)
        uvicorn.run("router.app:app_factory", factory=True, workers=settings.workers,
                    **common)  # type: ignore[arg-type]
        return
    uvicorn.run(create_app(settings), **common)  # type: ignore[arg-type]
