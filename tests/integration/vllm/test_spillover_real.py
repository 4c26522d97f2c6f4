"""Spill-over driven by a real vLLM's /metrics, through Junction.

The vLLM here is this test's own, with `--max-num-seqs 1`: long generations (`ignore_eos`, many
tokens) sent straight to it make a queue certain, whatever else the machine is doing. While
/metrics shows requests waiting, Junction must send `auto` requests to the API and say why;
once the queue has drained it must come back to the local model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

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
    # Passed 4 runs of 5 (three alone, one fresh-clone CI run); in one fresh-clone CI run the
    # one-seat server's /metrics showed no waiting request within 60 s, the same symptom as the
    # earlier real-vLLM spill test. Not reliable yet, so not in CI; the emulator's spill-over
    # test (tests/integration/gateway/test_spillover.py) runs everywhere.
    pytest.mark.skipif(__import__("os").environ.get("CI") == "true",
                       reason="not yet reliable in full CI runs: the real vLLM's queue did not "
                       "show in /metrics within 60 s in 1 of 2 fresh-clone runs"),
]

# One running, the rest waiting: each takes seconds even at the tiny model's top speed.
OCCUPIERS = 4
LONG_TOKENS = 1500


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


def waiting_now(server: RealVllm) -> float:
    """Requests queued in vLLM, read from its /metrics as the capacity probe reads it."""
    text = httpx.get(server.base_url + "/metrics", timeout=10).text
    return parse_metrics(text, time.monotonic()).waiting


def ask(gw: Gateway) -> httpx.Response:
    return httpx.post(gw.v1 + "/chat/completions", timeout=120, json={
        "model": "auto", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 4,
        "ignore_eos": True})


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout:.0f} s")
        time.sleep(0.05)


def test_spills_while_the_real_queue_is_long_and_comes_back_after(
    one_seat_vllm: RealVllm, api_url: str, tmp_path: Path
) -> None:
    server = one_seat_vllm
    with running_gateway(policy(server.base_url, server.model, api_url), tmp_path,
                         probe_interval_s=0.1,
                         timeouts={"first_byte_s": 120, "stream_idle_s": 120}) as gw:
        idle = ask(gw)
        assert idle.headers["x-junction-model"] == "qwen-local", idle.headers
        assert "x-junction-spilled" not in idle.headers

        done = threading.Barrier(OCCUPIERS + 1)

        def occupy() -> None:
            try:
                httpx.post(server.base_url + "/v1/chat/completions", timeout=600, json={
                    "model": server.model, "max_tokens": LONG_TOKENS, "ignore_eos": True,
                    "messages": [{"role": "user", "content": "Tell me about the sea."}]})
            finally:
                done.wait()

        for _ in range(OCCUPIERS):
            threading.Thread(target=occupy, daemon=True).start()
        wait_for(lambda: waiting_now(server) >= 1, 60, "vLLM's /metrics showing a queue")

        spilled = ask(gw)
        queued_after = waiting_now(server)
        # The queue was there before and is still there after: the request met it.
        assert queued_after >= 1, "the queue drained during the request; LONG_TOKENS too small"
        assert spilled.status_code == 200, spilled.text
        assert spilled.headers["x-junction-model"] == "api", spilled.headers
        assert spilled.headers["x-junction-spilled"].startswith(
            "qwen-local: local saturated (waiting "), spilled.headers
        assert spilled.headers["x-junction-attempts"] == "api:ok"

        done.wait(timeout=600)  # every long generation has finished
        wait_for(lambda: waiting_now(server) == 0, 60, "vLLM's queue draining")
        wait_for(lambda: ask(gw).headers.get("x-junction-model") == "qwen-local", 60,
                 "Junction serving locally again")
        back = ask(gw)
        assert back.headers["x-junction-model"] == "qwen-local"
        assert "x-junction-spilled" not in back.headers
