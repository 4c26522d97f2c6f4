"""A PostgreSQL database of the test's own: created with a random name, dropped after.

The server is `JUNCTION_TEST_POSTGRES_URL` (default postgresql://postgres@127.0.0.1:5432, trust
auth, as on the development machine; `.ci/run` starts one where none answers).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432"


def server_url() -> str:
    return os.environ.get("JUNCTION_TEST_POSTGRES_URL", DEFAULT_SERVER).rstrip("/")


def unreachable_reason() -> str | None:
    """Why no PostgreSQL can be used, or None when one answers."""
    try:
        asyncio.run(_execute(f"{server_url()}/postgres", "SELECT 1"))
    except (OSError, asyncpg.PostgresError) as exc:
        return (f"no PostgreSQL at {server_url()} ({type(exc).__name__}: {exc}); .ci/run "
                "starts one, or set JUNCTION_TEST_POSTGRES_URL")
    return None


@contextmanager
def scratch_database() -> Iterator[str]:
    """Yields the postgresql:// URL of a new, empty database; drops it afterwards."""
    name = f"junction_test_{secrets.token_hex(6)}"
    admin = f"{server_url()}/postgres"
    asyncio.run(_execute(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield f"{server_url()}/{name}"
    finally:
        asyncio.run(_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
