"""Fixtures shared by every test: real services on loopback, started here when needed."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.redis_server import redis_server

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
                  ) -> None:
    """Every test's gateways keep their SQLite database in a directory of their own, so no
    test sees another's keys or records (and none writes into the working directory)."""
    monkeypatch.setenv("JUNCTION_DATA_DIR", str(tmp_path_factory.mktemp("junction-data")))
    monkeypatch.delenv("JUNCTION_DATABASE_URL", raising=False)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server for this test session (JUNCTION_TEST_REDIS_URL reuses one)."""
    given = os.environ.get("JUNCTION_TEST_REDIS_URL")
    if given:
        yield given
        return
    with redis_server() as url:
        yield url
