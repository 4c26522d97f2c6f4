"""Injected misbehaviour: failures, hangs, cut streams, pacing, and runtime configuration."""

from __future__ import annotations

import threading
import time

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from junction_emulate import EmulatorBehaviour, create_openai_app, run_in_thread
from tests.integration.emulate.conftest import Serve

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello"}]
BODY = {"model": "gpt-4o-mini", "messages": MESSAGES}


def _sdk(url: str, timeout: float = 10.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0, timeout=timeout)


def test_fail_next_fails_exactly_that_many(serve: Serve, http: httpx.Client) -> None:
    url = serve(create_openai_app())
    config = http.post(f"{url}/_emulator/config", json={"fail_next": 2, "error_status": 503})
    assert config.json()["fail_next"] == 2

    with _sdk(url) as sdk:
        for _ in range(2):
            with pytest.raises(openai.InternalServerError) as raised:
                sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            assert raised.value.status_code == 503
            assert raised.value.type == "server_error"
        sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert http.get(f"{url}/_emulator/config").json()["fail_next"] == 0


def test_rate_limit_error_has_openai_shape(serve: Serve, http: httpx.Client) -> None:
    url = serve(create_openai_app(EmulatorBehaviour(models=(), fail_next=1, error_status=429)))

    response = http.post(f"{url}/v1/chat/completions", json=BODY)
    assert response.status_code == 429
    assert response.json() == {
        "error": {
            "message": "Rate limit reached (emulated).",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }


def test_error_rate_is_seeded_and_repeatable(serve: Serve, http: httpx.Client) -> None:
    behaviour = EmulatorBehaviour(models=(), error_rate=0.5, seed=7)
    outcomes = []
    for _ in range(2):
        url = serve(create_openai_app(behaviour))
        statuses = [
            http.post(f"{url}/v1/chat/completions", json=BODY).status_code for _ in range(12)
        ]
        outcomes.append(statuses)

    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {200, 500}


def test_cut_after_chunks_aborts_the_connection(serve: Serve, http: httpx.Client) -> None:
    url = serve(create_openai_app(EmulatorBehaviour(models=(), cut_after_chunks=3)))

    with _sdk(url) as sdk:
        stream = sdk.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        received = []
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in stream:
                received.append(chunk)
    assert len(received) == 3

    # The server survives a cut and serves the next request.
    http.post(f"{url}/_emulator/config", json={"cut_after_chunks": None})
    assert http.post(f"{url}/v1/chat/completions", json={**BODY, "stream": True}).status_code == 200


def test_hang_times_the_client_out_and_frees_the_server(serve: Serve, http: httpx.Client) -> None:
    app = create_openai_app(EmulatorBehaviour(models=(), hang=True))
    url = serve(app)

    with _sdk(url, timeout=0.3) as sdk, pytest.raises(openai.APITimeoutError):
        sdk.chat.completions.create(model="m", messages=MESSAGES)

    http.post(f"{url}/_emulator/config", json={"hang": False})
    assert http.post(f"{url}/v1/chat/completions", json=BODY).status_code == 200


def test_hang_seconds_answers_late(serve: Serve, http: httpx.Client) -> None:
    url = serve(create_openai_app(EmulatorBehaviour(models=(), hang_seconds=0.3)))

    started = time.perf_counter()
    assert http.post(f"{url}/v1/chat/completions", json=BODY).status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_ttft_and_tps_pace_the_stream(serve: Serve) -> None:
    behaviour = EmulatorBehaviour(models=(), ttft=0.2, tps=50, completion_tokens=11)
    url = serve(create_openai_app(behaviour))

    with _sdk(url) as sdk:
        started = time.perf_counter()
        stream = sdk.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        arrivals = [
            time.perf_counter() - started
            for c in stream
            if c.choices and c.choices[0].delta.content
        ]

    assert len(arrivals) == 11
    assert arrivals[0] >= 0.2
    # Ten gaps of 20 ms after the first token (due times are absolute, so this is a floor).
    assert arrivals[-1] >= 0.2 + 0.19


def test_config_rejects_bad_values_naming_the_field(serve: Serve, http: httpx.Client) -> None:
    url = serve(create_openai_app())

    out_of_range = http.post(f"{url}/_emulator/config", json={"error_rate": 2})
    assert out_of_range.status_code == 400
    assert "error_rate" in out_of_range.json()["error"]["message"]
    unknown = http.post(f"{url}/_emulator/config", json={"speed": 1})
    assert unknown.status_code == 400
    assert "tps" in unknown.json()["error"]["message"]
    wrong_type = http.post(f"{url}/_emulator/config", json={"tps": "fast"})
    assert wrong_type.status_code == 400
    assert http.get(f"{url}/_emulator/config").json()["tps"] == 0.0


def test_models_can_change_at_runtime(serve: Serve, http: httpx.Client) -> None:
    url = serve(create_openai_app())
    http.post(f"{url}/_emulator/config", json={"models": ["local-a", "local-b"]})

    with _sdk(url) as sdk:
        assert [m.id for m in sdk.models.list()] == ["local-a", "local-b"]
        reply = sdk.chat.completions.create(model="local-b", messages=MESSAGES)
    assert "local-b" in (reply.choices[0].message.content or "")


def test_stopping_the_emulator_answers_a_hung_request(http: httpx.Client) -> None:
    app = create_openai_app(EmulatorBehaviour(hang=True))
    statuses: list[int] = []
    with run_in_thread(app) as url:

        def call() -> None:
            with httpx.Client(timeout=10.0) as own:
                statuses.append(own.post(f"{url}/v1/chat/completions", json=BODY).status_code)

        caller = threading.Thread(target=call)
        caller.start()
        deadline = time.monotonic() + 5
        while app.state.recorder.count == 0 and time.monotonic() < deadline:
            time.sleep(0.01)

    caller.join()
    # A 503 in OpenAI's shape, not uvicorn's cancellation after its graceful timeout.
    assert statuses == [503]
