"""The vLLM emulator: OpenAI SDK for chat, raw HTTP for its operational endpoints and /metrics."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from prometheus_client.parser import text_string_to_metric_families

from junction_emulate import EmulatorBehaviour, create_vllm_app
from tests.integration.emulate.conftest import Serve

MODEL = "Qwen/Qwen3-8B"
MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "Explain KV caches in one line."}
]
LABELS = {"engine": "0", "model_name": MODEL}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def url(serve: Serve) -> str:
    return serve(create_vllm_app())


@pytest.fixture
def client(url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0) as sdk:
        yield sdk


def scrape(http: httpx.Client, url: str) -> Samples:
    response = http.get(f"{url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **extra: str) -> float:
    return samples[(name, tuple(sorted({**LABELS, **extra}.items())))]


def test_reasoning_comes_with_the_answer_and_counts_as_completion(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model=MODEL, messages=MESSAGES)

    message = completion.choices[0].message
    reasoning = (message.model_extra or {})["reasoning"]
    assert reasoning.startswith(f"[emulated reasoning of {MODEL}]")
    assert (message.content or "").startswith(f"[emulated reply from {MODEL}")
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 8 + 16


def test_thinking_can_be_turned_off(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        extra_body={"chat_template_kwargs": {"enable_thinking": False}},
    )

    assert (completion.choices[0].message.model_extra or {}).get("reasoning") is None
    assert completion.usage is not None and completion.usage.completion_tokens == 16


def test_stream_sends_reasoning_deltas_before_content(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    kinds = []
    usage = None
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            if (choice.delta.model_extra or {}).get("reasoning"):
                kinds.append("reasoning")
            elif choice.delta.content:
                kinds.append("content")

    assert kinds == ["reasoning"] * 8 + ["content"] * 16
    assert usage is not None and usage.completion_tokens == 24


def test_ignore_eos_and_min_tokens_shape_the_length(client: openai.OpenAI) -> None:
    fixed = client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        max_tokens=40,
        extra_body={"ignore_eos": True},
    )
    assert fixed.usage is not None and fixed.usage.completion_tokens == 40
    assert fixed.choices[0].finish_reason == "length"

    longer = client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        extra_body={"min_tokens": 30},
    )
    assert longer.usage is not None and longer.usage.completion_tokens == 30
    assert longer.choices[0].finish_reason == "stop"


def test_context_overflow_is_a_vllm_bad_request(serve: Serve, http: httpx.Client) -> None:
    url = serve(create_vllm_app(EmulatorBehaviour(models=(MODEL,), max_model_len=16)))
    body = {"model": MODEL, "messages": [{"role": "user", "content": "word " * 40}]}

    response = http.post(f"{url}/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "BadRequestError"
    assert error["code"] == 400
    assert "maximum context length is 16 tokens" in error["message"]


def test_unknown_model_is_a_vllm_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="other", messages=MESSAGES)
    assert raised.value.body == {
        "message": "The model `other` does not exist.",
        "type": "NotFoundError",
        "param": "model",
        "code": 404,
    }


def test_operational_endpoints(url: str, http: httpx.Client) -> None:
    health = http.get(f"{url}/health")
    assert (health.status_code, health.content) == (200, b"")
    assert http.get(f"{url}/version").json() == {"version": "0.32.0"}
    assert http.get(f"{url}/load").json() == {"server_load": 0}
    (card,) = http.get(f"{url}/v1/models").json()["data"]
    assert card["id"] == card["root"] == MODEL
    assert card["owned_by"] == "vllm"
    assert card["max_model_len"] == 32_768


def test_metrics_count_tokens_and_requests(
    url: str, client: openai.OpenAI, http: httpx.Client
) -> None:
    before = scrape(http, url)
    assert value(before, "vllm:num_requests_running") == 0
    assert value(before, "vllm:request_success_total", finished_reason="stop") == 0

    prompt = 0
    for max_tokens in (None, 5):
        completion = client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            max_tokens=max_tokens,
        )
        assert completion.usage is not None
        prompt += completion.usage.prompt_tokens

    after = scrape(http, url)
    assert value(after, "vllm:prompt_tokens_total") == prompt
    assert value(after, "vllm:generation_tokens_total") == 24 + 5
    assert value(after, "vllm:request_success_total", finished_reason="stop") == 1
    assert value(after, "vllm:request_success_total", finished_reason="length") == 1
    assert value(after, "vllm:num_preemptions_total") == 0
    assert value(after, "vllm:e2e_request_latency_seconds_count") == 2
    assert value(after, "vllm:request_queue_time_seconds_count") == 2
    assert value(after, "vllm:time_to_first_token_seconds_count") == 2
    assert value(after, "vllm:inter_token_latency_seconds_count") == 23 + 4
    assert value(after, "vllm:kv_cache_usage_perc") == 0


def test_histograms_use_vllm_buckets(url: str, http: httpx.Client) -> None:
    samples = scrape(http, url)

    def bounds(name: str) -> list[str]:
        found = [dict(labels)["le"] for (sample, labels) in samples if sample == f"{name}_bucket"]
        return sorted(found, key=float)

    assert bounds("vllm:time_to_first_token_seconds")[:3] == ["0.001", "0.005", "0.01"]
    assert bounds("vllm:time_to_first_token_seconds")[-2:] == ["2560.0", "+Inf"]
    assert bounds("vllm:inter_token_latency_seconds")[-2:] == ["80.0", "+Inf"]
    assert len(bounds("vllm:e2e_request_latency_seconds")) == 22
    assert bounds("vllm:request_queue_time_seconds") == bounds("vllm:e2e_request_latency_seconds")


def _wait_for(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_queueing_beyond_the_limit_shows_in_metrics_and_load(
    serve: Serve, http: httpx.Client
) -> None:
    behaviour = EmulatorBehaviour(
        models=(MODEL,),
        max_concurrency=1,
        tps=20,
        completion_tokens=20,
        reasoning_tokens=0,
        kv_cache_tokens=100,
    )
    url = serve(create_vllm_app(behaviour))
    body = {"model": MODEL, "messages": MESSAGES}
    statuses: list[int] = []

    def call() -> None:
        with httpx.Client(timeout=10.0) as own:
            statuses.append(own.post(f"{url}/v1/chat/completions", json=body).status_code)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    _wait_for(lambda: value(scrape(http, url), "vllm:num_requests_waiting") == 2)
    busy = scrape(http, url)
    assert value(busy, "vllm:num_requests_running") == 1
    assert 0 < value(busy, "vllm:kv_cache_usage_perc") <= 1
    assert http.get(f"{url}/load").json() == {"server_load": 3}
    for thread in threads:
        thread.join()

    done = scrape(http, url)
    assert statuses == [200, 200, 200]
    assert value(done, "vllm:num_requests_waiting") == 0
    assert value(done, "vllm:request_queue_time_seconds_count") == 3
    # All three had arrived while the first ran (~0.95 s), so the last waited for two runs.
    assert value(done, "vllm:request_queue_time_seconds_sum") >= 0.9


def test_a_client_that_gives_up_leaves_the_queue(serve: Serve, http: httpx.Client) -> None:
    behaviour = EmulatorBehaviour(models=(MODEL,), max_concurrency=1, tps=10, completion_tokens=10)
    app = create_vllm_app(behaviour)
    url = serve(app)
    body = {"model": MODEL, "messages": MESSAGES}

    def call() -> None:
        with httpx.Client(timeout=10.0) as own:
            own.post(f"{url}/v1/chat/completions", json=body)

    first = threading.Thread(target=call)
    first.start()
    _wait_for(lambda: app.state.gate.running == 1)
    with pytest.raises(httpx.ReadTimeout):
        http.post(f"{url}/v1/chat/completions", json=body, timeout=0.3)
    _wait_for(lambda: app.state.gate.waiting == 0)
    first.join()

    _wait_for(lambda: app.state.in_flight == 0)
    aborted = value(scrape(http, url), "vllm:request_success_total", finished_reason="abort")
    assert aborted == 1


def test_a_request_beyond_kv_capacity_counts_a_preemption(serve: Serve, http: httpx.Client) -> None:
    url = serve(create_vllm_app(EmulatorBehaviour(models=(MODEL,), kv_cache_tokens=4)))
    body = {"model": MODEL, "messages": MESSAGES}

    assert http.post(f"{url}/v1/chat/completions", json=body).status_code == 200
    assert value(scrape(http, url), "vllm:num_preemptions_total") == 1
