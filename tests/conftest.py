"""Fixtures shared by every test: real services on loopback, started here when needed."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.postgres import scratch_database, unreachable_reason
from tests.support.redis_server import redis_server

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture(scope="module", autouse=True)
def _module_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Gateways started by module-scoped fixtures (before `_own_data_dir`) keep their database
    in a directory of the module's own: never the working directory, and never another
    module's (whose active policy would serve instead of this module's policy file)."""
    before = os.environ.get("JUNCTION_DATA_DIR")
    os.environ["JUNCTION_DATA_DIR"] = str(tmp_path_factory.mktemp("junction-module-data"))
    yield
    if before is None:
        os.environ.pop("JUNCTION_DATA_DIR", None)
    else:
        os.environ["JUNCTION_DATA_DIR"] = before


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


@pytest.fixture(scope="session")
def _postgres_available() -> None:
    reason = unreachable_reason()
    if reason is not None:
        if os.environ.get("JUNCTION_REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def postgres_url(_postgres_available: None) -> Iterator[str]:
    """A real PostgreSQL database of this test's own (random name, dropped after)."""
    with scratch_database() as url:
        yield url
