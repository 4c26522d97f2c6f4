"""Spill-over driven by a real vLLM's /metrics, through Junction.

The vLLM here is this test's own, with `--max-num-seqs 1`. The test gives it far more work than
one seat can do while a request crosses vLLM's API server: one streamed generation that has
produced its first chunk holds the seat, five more follow, each 4,000 tokens long (`ignore_eos`,
nearly the whole context), and only the test ends them, by closing their streams. Then it waits
for what it cannot time: `/metrics` reporting the queue (it can, while two generations are
unfinished; the test fails at once when fewer are) and Junction's explain saying it would spill.
While requests are waiting, `auto` requests must go to the API and say why; once the test has
cancelled the generations and `/metrics` shows an idle server, Junction must serve locally
again.

Every failure message says which step did not happen and carries the timeline (each generation's
progress, every change in `/metrics`, the requests' answers) and the end of the vLLM log.

The likely reason the earlier version failed in a full CI run (its queue never showed in
`/metrics` within 60 s) yet passed alone, measured here (that run's threads left no evidence):
on a busy 2-core machine vLLM's API server falls behind its engine. Its output handler
(`AsyncLLM.output_handler`, vllm 0.32) takes the engine's outputs from an asyncio queue that is
never empty while it lags, so it does not yield, and new requests and `/metrics` scrapes wait:
measured here in three of six runs (load averages 6-14), requests sent while one generation was
running got their HTTP headers 6 to 23 s later, and `/metrics` answered as late; in the other
three, at similar load averages, under 1 s. The engine's gauge counts only requests the API
server has handed over, so with one seat and 1,500-token generations (8-20 s each) each request
could reach the engine only after the one before had finished: no queue, ever. Ruled out on the
way: generations cut short (four ran their full 1,500 tokens, finish reason `length`); requests
refused (`max_num_queued_reqs` is unset, and they went straight to vLLM, past Junction's
admission); a sampled gauge (vLLM sets it from the scheduler's stats at every engine step); the
session's other vLLM (a separate process and port); first-request compilation
(`--enforce-eager`, and the test's first request warms the engine); CPU pinning (vLLM logs
OpenMP "core ids=[0]", but its threads' affinity stays 0-1). Chunks of 100 tokens
(`stream_interval`) keep the streams from adding to the API server's work.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from junction_emulate import EmulatorBehaviour, create_openai_app, run_in_thread
from local_backend.metrics import parse_metrics
from tests.integration.vllm.conftest import RealVllm, require_vllm, running_vllm
from tests.integration.vllm.test_through_gateway import policy
from tests.support.gateway import Gateway, running_gateway

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.slow,
    # Passed in one fresh-clone CI run (2026-12-06 05:56) and five runs on a loaded machine,
    # then failed in the next fresh-clone CI run (06:35): vLLM's API server, lagging behind its
    # engine, answered /metrics only 52 s after the queue formed, and by the time Junction's
    # probe could see the queue every 4,000-token generation (the model's whole window, about
    # 19 s each at 215 tokens/s) had finished. A queue long enough to outlast the lag needs
    # more or longer generations than fit this test's time; until then it runs outside CI and
    # the emulator's spill-over test (tests/integration/gateway/test_spillover.py) runs
    # everywhere.
    pytest.mark.skipif(__import__("os").environ.get("CI") == "true",
                       reason="not yet reliable in full CI runs: in 1 of 2 fresh-clone runs "
                       "vLLM's lagging API server hid the queue until it had drained"),
]

# This test's vLLM runs with the tiny model's whole context (4096): a prompt of about 30 tokens
# leaves room for 4000 generated ones, 15 s at the tiny model's top single-stream speed.
MAX_MODEL_LEN = 4096
LONG_TOKENS = 4000
# One holds the seat, five more follow: the engine has about six whole generations of work, and
# a queue shows as soon as any two of them are in the engine at once.
QUEUED = 5
STREAM_INTERVAL = 100
# Waiting for a state the test has made certain: generous, because a loaded 2-core machine
# took up to 23 s to move a request through vLLM's API server into the engine.
DEADLINE_S = 240.0


class Timeline:
    """What happened, in order, with seconds since the test started: the failure message."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.events: list[str] = []
        self.lock = threading.Lock()

    def note(self, event: str) -> None:
        with self.lock:
            self.events.append(f"{time.monotonic() - self.start:7.2f}s {event}")

    def text(self) -> str:
        with self.lock:
            return "\n".join(self.events[-200:])


@dataclass
class Occupier:
    """One long streamed generation sent straight to vLLM, cancellable by closing it."""

    name: str
    server: RealVllm
    timeline: Timeline
    stop: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)  # first chunk arrived
    chunks: int = 0
    status: int | None = None
    outcome: str = "not sent"
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.outcome = "sent"
        self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        body = {
            "model": self.server.model, "max_tokens": LONG_TOKENS, "ignore_eos": True,
            "stream": True, "chat_template_kwargs": {"enable_thinking": False},
            # One chunk per STREAM_INTERVAL tokens (the first at once): a chunk per token kept
            # vLLM's API server so busy that new requests took 20 s to reach the engine.
            "stream_interval": STREAM_INTERVAL,
            "messages": [{"role": "user", "content": f"Tell me about the sea ({self.name})."}]}
        self.timeline.note(f"{self.name}: sent")
        try:
            with httpx.stream("POST", self.server.base_url + "/v1/chat/completions", json=body,
                              timeout=httpx.Timeout(10.0, read=DEADLINE_S)) as response:
                self.status = response.status_code
                self.timeline.note(f"{self.name}: HTTP {response.status_code}")
                if response.status_code != 200:
                    self.outcome = f"refused: {response.read()[:300]!r}"
                    return
                for line in response.iter_lines():
                    if self.stop.is_set():
                        self.outcome = f"cancelled after {self.chunks} chunks"
                        return  # closing the stream makes vLLM abort the request
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    chunk = json.loads(line[len("data: "):])
                    if "error" in chunk:
                        self.outcome = f"error event: {chunk['error']}"
                        return
                    self.chunks += 1
                    if self.chunks == 1:
                        self.timeline.note(f"{self.name}: first chunk (it holds the seat)")
                        self.started.set()
                self.outcome = f"finished after {self.chunks} chunks"
        except httpx.HTTPError as exc:
            self.outcome = f"{type(exc).__name__}: {exc}"
        finally:
            self.timeline.note(f"{self.name}: {self.outcome}")

    def cancel(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=60)

    def describe(self) -> str:
        return f"{self.name}: {self.outcome}, HTTP {self.status}, {self.chunks} chunks"


class Scenario:
    """The one-seat vLLM, Junction in front of it, the occupiers, and the evidence."""

    def __init__(self, server: RealVllm, gateway: Gateway) -> None:
        self.server = server
        self.gateway = gateway
        self.timeline = Timeline()
        self.occupiers: list[Occupier] = []
        self.last_metrics: tuple[float, float] | None = None

    def occupier(self, name: str) -> Occupier:
        occupier = Occupier(name, self.server, self.timeline)
        self.occupiers.append(occupier)
        occupier.start()
        return occupier

    def metrics(self) -> tuple[float, float]:
        """(running, waiting) from vLLM's /metrics, as Junction's capacity probe reads them."""
        text = httpx.get(self.server.base_url + "/metrics", timeout=30).text
        scrape = parse_metrics(text, time.monotonic())
        now = (scrape.running, scrape.waiting)
        if now != self.last_metrics:
            self.timeline.note(f"/metrics: running {now[0]:g}, waiting {now[1]:g}")
            self.last_metrics = now
        return now

    def explain(self) -> dict[str, Any]:
        """Junction's decision for an `auto` request now; explain changes nothing."""
        response = httpx.post(self.gateway.v1 + "/route/explain", timeout=30, json=self.body())
        response.raise_for_status()
        decision: dict[str, Any] = response.json()
        return decision

    def body(self) -> dict[str, Any]:
        return {"model": "auto", "messages": [{"role": "user", "content": "hello"}],
                "max_tokens": 4, "ignore_eos": True}

    def ask(self) -> httpx.Response:
        try:
            response = httpx.post(self.gateway.v1 + "/chat/completions", timeout=120,
                                  json=self.body())
        except httpx.HTTPError as exc:
            self.fail(f"a request through Junction failed: {exc!r}")
        self.timeline.note(
            f"ask: HTTP {response.status_code}, model {response.headers.get('x-junction-model')},"
            f" spilled {response.headers.get('x-junction-spilled')!r}")
        return response

    def wait_for(self, predicate: Callable[[], bool], what: str,
                 unless: Callable[[], str | None] = lambda: None) -> None:
        """Poll until `predicate` holds; fail at the deadline, or at once when `unless` names
        a fact that makes waiting pointless."""
        deadline = time.monotonic() + DEADLINE_S
        while not self._holds(predicate, what):
            broken = unless()
            if broken:
                self.fail(f"{what}: cannot happen any more, because {broken}")
            if time.monotonic() > deadline:
                self.fail(f"{what}: not reached within {DEADLINE_S:.0f} s")
            time.sleep(0.25)  # each poll is work for vLLM's API server too
        self.timeline.note(f"reached: {what}")

    def _holds(self, predicate: Callable[[], bool], what: str) -> bool:
        try:
            return predicate()
        except httpx.HTTPError as exc:  # a slow answer is a fact for the timeline, not the end
            self.timeline.note(f"while waiting for {what}: {exc!r}")
            return False

    def fail(self, message: str) -> NoReturn:
        occupiers = "\n".join(o.describe() for o in self.occupiers)
        log = self.server.log_path.read_text(errors="replace")[-3000:]
        pytest.fail(f"{message}\n--- occupiers ---\n{occupiers}\n--- timeline ---\n"
                    f"{self.timeline.text()}\n--- end of {self.server.log_path} ---\n{log}")

    def check(self, condition: bool, message: str) -> None:
        if not condition:
            self.fail(message)

    def cancel_all(self) -> None:
        # All at once: a queued generation notices only when it gets its first chunk.
        for occupier in self.occupiers:
            occupier.stop.set()
        for occupier in self.occupiers:
            occupier.cancel()


@pytest.fixture(scope="module")
def one_seat_vllm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealVllm]:
    require_vllm()
    log_path = tmp_path_factory.mktemp("vllm-one-seat") / "vllm.log"
    with running_vllm(log_path, max_num_seqs=1, max_model_len=MAX_MODEL_LEN) as server:
        yield server


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    with run_in_thread(create_openai_app(EmulatorBehaviour(models=("api-small",)))) as url:
        yield url


@pytest.fixture
def scenario(one_seat_vllm: RealVllm, api_url: str, tmp_path: Path) -> Iterator[Scenario]:
    server = one_seat_vllm
    with running_gateway(policy(server.base_url, server.model, api_url), tmp_path,
                         probe_interval_s=0.1,
                         timeouts={"first_byte_s": 120, "stream_idle_s": 120}) as gw:
        scenario = Scenario(server, gw)
        try:
            yield scenario
        finally:
            scenario.cancel_all()
            print(scenario.timeline.text())  # shown with `pytest -rP`, to compare good runs


def test_spills_while_the_real_queue_is_long_and_comes_back_after(scenario: Scenario) -> None:
    s = scenario
    idle = s.ask()
    s.check(idle.status_code == 200 and idle.headers.get("x-junction-model") == "qwen-local"
            and "x-junction-spilled" not in idle.headers, f"idle: {idle.headers}")

    # The seat: one generation that has produced its first chunk is running, and with one seat
    # nothing else can run until it ends, which the test decides.
    seat = s.occupier("seat")
    s.wait_for(seat.started.is_set, "the first long generation running",
               unless=lambda: None if seat.outcome == "sent" else seat.outcome)
    for i in range(QUEUED):
        s.occupier(f"queued-{i + 1}")

    def no_queue_possible() -> str | None:
        # With one seat, vLLM can report a waiting request only while two are unfinished.
        unfinished = [o.name for o in s.occupiers if o.outcome == "sent"]
        if len(unfinished) < 2:
            return f"only {unfinished} still unfinished"
        return None

    # A request the test has sent is not in vLLM's queue (the gauge) until vLLM's API server
    # has handed it to the engine, which took up to 23 s here (see the module docstring). So
    # the test cannot know when the queue forms, only that it can while two generations are
    # unfinished: it waits for vLLM to report it, then for Junction's probe to read it
    # (explain shows the decision serving would make).
    s.wait_for(lambda: s.metrics()[1] >= 1, "vLLM's /metrics showing the queue",
               unless=no_queue_possible)
    s.wait_for(lambda: bool(s.explain()["spilled"]), "Junction's explain saying it would spill",
               unless=no_queue_possible)

    spilled = s.ask()
    s.check(spilled.status_code == 200, f"spilled request: {spilled.text}")
    s.check(spilled.headers.get("x-junction-model") == "api", f"spilled: {spilled.headers}")
    s.check(spilled.headers.get("x-junction-spilled", "").startswith(
        "qwen-local: local saturated (waiting "), f"spilled: {spilled.headers}")
    s.check(spilled.headers.get("x-junction-attempts") == "api:ok", f"spilled: {spilled.headers}")

    # Cancelling the long generations frees the seat (vLLM aborts a request whose stream is
    # closed) and empties the queue; Junction must then serve locally again.
    s.cancel_all()
    s.wait_for(lambda: s.metrics() == (0, 0), "vLLM's /metrics showing an idle server")
    s.wait_for(lambda: s.explain()["choice"] == "qwen-local", "Junction choosing local again")
    back = s.ask()
    s.check(back.status_code == 200 and back.headers.get("x-junction-model") == "qwen-local"
            and "x-junction-spilled" not in back.headers, f"back: {back.headers}")
