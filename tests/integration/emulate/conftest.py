"""Fixtures: emulators served on loopback for the length of one test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest

from junction_emulate import EmulatorApp, run_in_thread

Serve = Callable[[EmulatorApp], str]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """`serve(app)` starts `app` on a free loopback port and returns its base URL."""
    with ExitStack() as stack:
        yield lambda app: stack.enter_context(run_in_thread(app))


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """A raw HTTP client, for what an SDK would hide (status lines, SSE framing, /metrics)."""
    with httpx.Client(timeout=10.0) as client:
        yield client
