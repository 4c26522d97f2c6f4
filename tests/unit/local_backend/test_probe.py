"""CapacityProbe state transitions and routing helpers, against httpx.MockTransport servers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
import pytest

from local_backend.metrics import EndpointLoad
from local_backend.probe import CapacityProbe, normalise_endpoint, predict_ttft


def metrics_text(running: int = 0, waiting: int = 0, kv: float = 0.0, ttft: float = 0.0) -> str:
    """The minimal vLLM /metrics the probe reads; `ttft` adds one observation of that many s."""
    labels = 'engine="0",model_name="m"'
    ttft_bucket = "vllm:time_to_first_token_seconds_bucket"
    seen = 1 if ttft else 0
    return "\n".join(
        [
            "# TYPE vllm:num_requests_running gauge",
            f"vllm:num_requests_running{{{labels}}} {running}",
            "# TYPE vllm:num_requests_waiting gauge",
            f"vllm:num_requests_waiting{{{labels}}} {waiting}",
            "# TYPE vllm:kv_cache_usage_perc gauge",
            f"vllm:kv_cache_usage_perc{{{labels}}} {kv}",
            "# TYPE vllm:time_to_first_token_seconds histogram",
            f'{ttft_bucket}{{engine="0",le="1.0",model_name="m"}} {seen}',
            f'{ttft_bucket}{{engine="0",le="+Inf",model_name="m"}} {seen}',
            f"vllm:time_to_first_token_seconds_count{{{labels}}} {seen}",
            f"vllm:time_to_first_token_seconds_sum{{{labels}}} {ttft}",
            "",
        ]
    )


@dataclass
class FakeServer:
    """What one fake vLLM answers; `fail` raises that transport error instead."""

    metrics: str = field(default_factory=metrics_text)
    health_status: int = 200
    fail: type[httpx.TransportError] | None = None
    hits: list[str] = field(default_factory=list)


class FakeFleet:
    """Fake vLLM servers by host, served through one MockTransport."""

    def __init__(self, **servers: FakeServer) -> None:
        self.servers = servers
        self.client = httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def handle(self, request: httpx.Request) -> httpx.Response:
        server = self.servers[request.url.host]
        server.hits.append(request.url.path)
        if server.fail is not None:
            raise server.fail("simulated", request=request)
        if request.url.path == "/health":
            return httpx.Response(server.health_status)
        if request.url.path == "/metrics":
            return httpx.Response(200, text=server.metrics)
        return httpx.Response(404)


def test_normalise_endpoint() -> None:
    assert normalise_endpoint("http://h:8000/v1/") == "http://h:8000"
    assert normalise_endpoint(" http://h:8000 ") == "http://h:8000"
    assert normalise_endpoint("http://h:8000/v1") == normalise_endpoint("http://h:8000")


def test_snapshot_is_none_before_the_first_poll_and_for_unknown_endpoints() -> None:
    fleet = FakeFleet(a=FakeServer())
    probe = CapacityProbe(["http://a/v1"], fleet.client)
    assert probe.snapshot("http://a") is None

    async def scenario() -> None:
        await probe.poll_once()

    asyncio.run(scenario())
    load = probe.snapshot("http://a/v1")
    assert load is not None and load.healthy and load.endpoint == "http://a"
    assert probe.snapshot("http://elsewhere") is None
    # Polls read /health and /metrics only: never a completion.
    assert sorted(fleet.servers["a"].hits) == ["/health", "/metrics"]


def test_down_after_threshold_failures_and_up_after_one_success() -> None:
    server = FakeServer(metrics=metrics_text(running=1))
    fleet = FakeFleet(a=server)
    probe = CapacityProbe(["http://a"], fleet.client, interval_s=1.0, failure_threshold=3)
    states: list[tuple[bool, int]] = []

    async def poll() -> None:
        await probe.poll_once()
        load = probe.snapshot("http://a")
        assert load is not None
        states.append((load.healthy, load.consecutive_failures))

    async def scenario() -> None:
        await poll()
        server.fail = httpx.ReadTimeout
        for _ in range(3):
            await poll()
        server.fail = None
        await poll()

    asyncio.run(scenario())
    assert states == [(True, 0), (True, 1), (True, 2), (False, 3), (True, 0)]


def test_connection_refused_marks_down_at_once() -> None:
    server = FakeServer()
    fleet = FakeFleet(a=server)
    probe = CapacityProbe(["http://a"], fleet.client, failure_threshold=5)

    async def scenario() -> EndpointLoad | None:
        await probe.poll_once()
        server.fail = httpx.ConnectError
        await probe.poll_once()
        return probe.snapshot("http://a")

    load = asyncio.run(scenario())
    assert load is not None and not load.healthy
    assert load.last_error is not None and "connection refused" in load.last_error
    assert load.last_scrape_at is not None  # the last good scrape's time is kept


@pytest.mark.parametrize(
    "breakage",
    [
        {"health_status": 503},
        {"metrics": "<html>gateway error</html>"},
        {"fail": httpx.ReadTimeout},
    ],
    ids=["health-503", "bad-metrics", "timeout"],
)
def test_failures_count_towards_the_threshold(breakage: dict[str, object]) -> None:
    server = FakeServer(**breakage)  # type: ignore[arg-type]
    fleet = FakeFleet(a=server)
    probe = CapacityProbe(["http://a"], fleet.client, failure_threshold=2)

    async def scenario() -> EndpointLoad | None:
        await probe.poll_once()
        return probe.snapshot("http://a")

    load = asyncio.run(scenario())
    # Never seen up: an endpoint is not healthy before its first good poll.
    assert load is not None and not load.healthy and load.consecutive_failures == 1
    assert load.last_error


def test_least_loaded_orders_by_waiting_then_running_then_kv_and_skips_down() -> None:
    fleet = FakeFleet(
        busy=FakeServer(metrics_text(running=1, waiting=3)),
        full=FakeServer(metrics_text(running=4, waiting=0, kv=0.9)),
        roomy=FakeServer(metrics_text(running=4, waiting=0, kv=0.2)),
        idle_but_down=FakeServer(fail=httpx.ConnectError),
    )
    given = ["http://busy/v1", "http://full", "http://roomy/", "http://idle_but_down"]
    probe = CapacityProbe(given, fleet.client)

    async def scenario() -> None:
        await probe.poll_once()

    asyncio.run(scenario())
    assert probe.least_loaded() == "http://roomy"
    # Returned as the caller spelt it, among the endpoints the caller allows.
    assert probe.least_loaded(["http://busy/v1", "http://full/v1"]) == "http://full/v1"
    assert probe.least_loaded(["http://busy"]) == "http://busy"
    assert probe.least_loaded(["http://idle_but_down", "http://unknown"]) is None


def test_predicted_ttft_formula() -> None:
    base = EndpointLoad("e", True, running=2, ttft_p50_s=0.3, queue_p50_s=0.1, e2e_p50_s=4.0)
    assert predict_ttft(base) == pytest.approx(0.2)  # no queue: own prefill only
    queued = EndpointLoad(
        "e", True, running=2, waiting=3, ttft_p50_s=0.3, queue_p50_s=0.1, e2e_p50_s=4.0
    )
    assert predict_ttft(queued) == pytest.approx(0.2 + 3 * 4.0 / 2)
    no_e2e = EndpointLoad("e", True, running=0, waiting=2, ttft_p50_s=0.5)
    assert predict_ttft(no_e2e) == pytest.approx(0.5 + 2 * 0.5)
    assert predict_ttft(EndpointLoad("e", True)) is None


def predicted_ttft(probe: CapacityProbe, endpoint: str) -> float | None:
    """What routing reads: the snapshot's prediction, none for a down endpoint."""
    load = probe.snapshot(endpoint)
    return None if load is None or not load.healthy else predict_ttft(load)


def test_probe_predicted_ttft_uses_the_snapshot_and_is_none_when_down() -> None:
    server = FakeServer(metrics_text(running=1, waiting=0, ttft=0.5))
    fleet = FakeFleet(a=server)
    probe = CapacityProbe(["http://a"], fleet.client)

    async def scenario() -> tuple[float | None, float | None]:
        await probe.poll_once()
        up = predicted_ttft(probe, "http://a/v1")
        server.fail = httpx.ConnectError
        await probe.poll_once()
        return up, predicted_ttft(probe, "http://a")

    up, down = asyncio.run(scenario())
    assert up is not None and 0 < up <= 1.0
    assert down is None


def test_start_polls_in_the_background_until_closed() -> None:
    server = FakeServer()
    fleet = FakeFleet(a=server)

    async def scenario() -> tuple[int, int]:
        async with CapacityProbe(["http://a"], fleet.client, interval_s=0.01) as probe:
            assert probe.snapshot("http://a") is not None  # start() polled once already
            for _ in range(200):
                if len(server.hits) >= 8:
                    break
                await asyncio.sleep(0.01)
        stopped_at = len(server.hits)
        await asyncio.sleep(0.05)
        return stopped_at, len(server.hits)

    stopped_at, later = asyncio.run(scenario())
    assert stopped_at >= 8
    assert later == stopped_at


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"interval_s": 0}, "interval_s"), ({"failure_threshold": 0}, "failure_threshold")],
)
def test_rejects_bad_settings(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CapacityProbe(["http://a"], httpx.AsyncClient(), **kwargs)  # type: ignore[arg-type]
