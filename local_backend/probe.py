"""Watch the load of local vLLM endpoints without sending them any completion.

`CapacityProbe` polls each endpoint's `/health` and `/metrics` every `interval_s` seconds in one
background task and keeps the latest `EndpointLoad` per endpoint, so the request path reads it
with a dictionary lookup (`snapshot`, `least_loaded`) and never waits on I/O.

Health: an endpoint is marked down at once when its port refuses connections (the server is
gone), and after `failure_threshold` consecutive failed polls otherwise (timeouts, 5xx, bad
metrics: a busy server can miss one poll). One good poll marks it up again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import replace
from types import TracebackType

import httpx

from local_backend.metrics import (
    EndpointLoad,
    MetricsParseError,
    MetricsScrape,
    endpoint_load,
    parse_metrics,
)

logger = logging.getLogger(__name__)


def normalise_endpoint(url: str) -> str:
    """`http://h:8000/v1/` and `http://h:8000` name the same server: return the latter."""
    base = url.strip().rstrip("/")
    if base.endswith("/v1"):
        base = base[: -len("/v1")]
    return base


def predict_ttft(load: EndpointLoad) -> float | None:
    """Seconds until a request sent now gets its first token, or None with no latency data.

    prediction = own prefill + queue wait, where
      own prefill = recent TTFT p50 - recent queue-time p50 (TTFT includes the queue it saw), and
      queue wait  = waiting x recent e2e p50 / max(running, 1): `running` requests finish about
                    every e2e seconds together, so a place frees every e2e / running seconds and
                    `waiting` requests are ahead. Without e2e data, waiting x TTFT p50 stands in.
    """
    if load.ttft_p50_s is None:
        return None
    prefill = max(load.ttft_p50_s - (load.queue_p50_s or 0.0), 0.0)
    if load.waiting <= 0:
        return prefill
    if load.e2e_p50_s is not None:
        wait = load.waiting * load.e2e_p50_s / max(load.running, 1)
    else:
        wait = load.waiting * load.ttft_p50_s
    return prefill + wait


class CapacityProbe:
    """Polls vLLM endpoints' `/health` and `/metrics` and keeps each one's `EndpointLoad`."""

    def __init__(
        self,
        endpoints: list[str],
        client: httpx.AsyncClient,
        interval_s: float = 1.0,
        failure_threshold: int = 3,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {failure_threshold}")
        self._endpoints = list(dict.fromkeys(normalise_endpoint(e) for e in endpoints))
        self._client = client
        self._interval_s = interval_s
        self._failure_threshold = failure_threshold
        self._loads: dict[str, EndpointLoad] = {}
        self._scrapes: dict[str, MetricsScrape] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def endpoints(self) -> list[str]:
        """The normalised endpoints this probe watches."""
        return list(self._endpoints)

    async def start(self) -> None:
        """Poll once (so snapshots exist when this returns), then keep polling in the background."""
        if self._task is not None:
            return
        await self.poll_once()
        self._task = asyncio.create_task(self._run(), name="junction-capacity-probe")

    async def close(self) -> None:
        """Stop polling. The client belongs to the caller and stays open."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> CapacityProbe:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await self.poll_once()

    async def poll_once(self) -> None:
        """Poll every endpoint once, concurrently, and update their state."""
        await asyncio.gather(*(self._poll(e) for e in self._endpoints))

    async def _poll(self, endpoint: str) -> None:
        # A busy vLLM answers /metrics late (its API server shares the CPU with the engine);
        # a short poll interval must not turn that into a failed poll.
        limit = max(self._interval_s * 2 + 1, 3.0)
        try:
            health, metrics = await asyncio.gather(
                self._client.get(f"{endpoint}/health", timeout=limit),
                self._client.get(f"{endpoint}/metrics", timeout=limit),
            )
            health.raise_for_status()
            metrics.raise_for_status()
            scrape = parse_metrics(metrics.text, time.monotonic())
        except httpx.ConnectError as exc:
            self._record_failure(endpoint, f"connection refused: {exc}", down_now=True)
        except (httpx.HTTPError, MetricsParseError) as exc:
            self._record_failure(endpoint, f"{type(exc).__name__}: {exc}", down_now=False)
        else:
            previous = self._loads.get(endpoint)
            earlier = self._scrapes.get(endpoint)
            self._scrapes[endpoint] = scrape
            self._loads[endpoint] = endpoint_load(endpoint, scrape, earlier, previous, time.time())
            if previous is not None and not previous.healthy:
                logger.info("local endpoint %s is up again", endpoint)

    def _record_failure(self, endpoint: str, error: str, down_now: bool) -> None:
        previous = self._loads.get(endpoint)
        failures = (previous.consecutive_failures if previous else 0) + 1
        was_healthy = previous is not None and previous.healthy
        healthy = was_healthy and not down_now and failures < self._failure_threshold
        if was_healthy and not healthy:
            logger.warning("local endpoint %s is down: %s", endpoint, error)
        base = previous or EndpointLoad(endpoint=endpoint, healthy=False)
        self._loads[endpoint] = replace(
            base, healthy=healthy, last_error=error, consecutive_failures=failures
        )

    def snapshot(self, endpoint: str) -> EndpointLoad | None:
        """The latest load of `endpoint`, or None before its first poll or if not watched."""
        return self._loads.get(normalise_endpoint(endpoint))

    def least_loaded(self, endpoints: Iterable[str] | None = None) -> str | None:
        """Of the healthy endpoints given (default: all), the one with the fewest waiting, then
        running requests, then the lowest KV cache usage; returned as the caller spelt it.
        """
        best: tuple[tuple[int, int, float], str] | None = None
        for given in self._endpoints if endpoints is None else endpoints:
            load = self.snapshot(given)
            if load is None or not load.healthy:
                continue
            key = (load.waiting, load.running, load.kv_cache_usage)
            if best is None or key < best[0]:
                best = (key, given)
        return None if best is None else best[1]
