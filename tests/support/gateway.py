"""The gateway under a real uvicorn server on loopback, with emulated backends beside it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from junction_emulate import run_in_thread
from router.app import create_app
from router.classify import Classifier
from router.settings import Settings


@dataclass
class Gateway:
    url: str
    app: FastAPI

    @property
    def v1(self) -> str:
        return self.url + "/v1"


@contextmanager
def running_gateway(
    policy: str,
    tmp_path: Path,
    environ: Mapping[str, str] | None = None,
    classifier: Classifier | None = None,
    **settings: Any,
) -> Iterator[Gateway]:
    path = tmp_path / "policy.yaml"
    path.write_text(policy)
    # A database of its own: gateways sharing one would serve the first one's policy (the
    # file is only the seed of an empty database).
    settings.setdefault("data_dir", tmp_path / f"junction-data-{uuid.uuid4().hex[:8]}")
    app = create_app(Settings(policy_file=path, **settings), environ=dict(environ or {}),
                     classifier=classifier)
    with run_in_thread(app) as url:
        yield Gateway(url, app)


def emulator_config(base_url: str, **changes: Any) -> None:
    """Change a running emulator's behaviour (its /_emulator/config endpoint)."""
    response = httpx.post(base_url + "/_emulator/config", json=changes, timeout=5)
    response.raise_for_status()


def emulator_requests(base_url: str) -> list[dict[str, Any]]:
    response = httpx.get(base_url + "/_emulator/requests", timeout=5)
    response.raise_for_status()
    data = response.json()
    return list(data["requests"] if isinstance(data, dict) else data)


def emulator_reset(base_url: str) -> None:
    httpx.post(base_url + "/_emulator/reset", timeout=5).raise_for_status()


def closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    from tests.support.redis_server import free_port

    return f"http://127.0.0.1:{free_port()}"
