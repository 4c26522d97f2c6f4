"""`POST /v1/embeddings` through a real gateway, with the official `openai` SDK as the caller and
the emulated vLLM (local) and OpenAI (external) servers as upstreams."""

from __future__ import annotations

import asyncio
import base64
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from junction_emulate import EmulatorBehaviour, create_openai_app, create_vllm_app, run_in_thread
from junction_emulate.embeddings import unit_vector
from tests.support.gateway import (
    Gateway,
    emulator_config,
    emulator_requests,
    emulator_reset,
    running_gateway,
)
from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_POLICY = ROOT / "policies" / "default.yaml"

CHAT_MODEL = "qwen-test"
LOCAL_EMBED = "embed-test"
API_SMALL = "text-embedding-3-small"
API_LARGE = "text-embedding-3-large"
ENV = {"TEST_API_KEY": "sk-test-api"}
ADMIN = "embeddings-admin"
EMAIL = "jane.doe@example.com"


@pytest.fixture(scope="module")
def vllm_url() -> Iterator[str]:
    behaviour = EmulatorBehaviour(models=(CHAT_MODEL, LOCAL_EMBED))
    with run_in_thread(create_vllm_app(behaviour)) as url:
        yield url


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    behaviour = EmulatorBehaviour(models=(API_SMALL, API_LARGE), api_key="sk-test-api")
    with run_in_thread(create_openai_app(behaviour)) as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh(vllm_url: str, api_url: str) -> None:
    for url in (vllm_url, api_url):
        emulator_reset(url)
        emulator_config(url, fail_next=0, embedding_fault="none", error_status=500)


def policy(local: str, api: str) -> str:
    return f"""
version: 1
models:
  chat-local:
    backend: local
    model: {CHAT_MODEL}
    endpoints: ["{local}"]
  embed-local:
    backend: local
    kind: embedding
    model: {LOCAL_EMBED}
    dimensions: 64
    endpoints: ["{local}"]
    # Dear on purpose: the external model is cheaper, so only sensitivity keeps work local.
    local_cost: {{gpu_hour_usd: 100.0, tokens_per_second: 10, mode: average}}
  embed-api:
    backend: openai
    kind: embedding
    model: {API_SMALL}
    dimensions: 64
    endpoints: ["{api}/v1"]
    api_key_env: TEST_API_KEY
    prices: {{input_per_million: 0.02}}
  embed-api-large:
    backend: openai
    kind: embedding
    model: {API_LARGE}
    endpoints: ["{api}/v1"]
    api_key_env: TEST_API_KEY
    prices: {{input_per_million: 0.13}}
routes:
  - name: embed
    candidates: [embed-api, embed-local]
  - name: embed-external
    candidates: [embed-api, embed-api-large]
  - name: default
    candidates: [chat-local]
defaults:
  embedding_route: embed
"""


@pytest.fixture
def gateway(vllm_url: str, api_url: str, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(policy(vllm_url, api_url), tmp_path, ENV, admin_token=ADMIN,
                         embeddings={"max_inputs": 8, "max_input_tokens": 64}) as gw:
        yield gw


_clients: list[openai.OpenAI] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def client(gw: Gateway, key: str = "unused") -> openai.OpenAI:
    made = openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0)
    _clients.append(made)
    return made


def embedding_calls(url: str) -> list[dict[str, Any]]:
    return [r for r in emulator_requests(url) if r["path"] == "/v1/embeddings"]


def test_a_string_is_embedded_by_the_default_route_in_float(gateway: Gateway,
                                                            api_url: str) -> None:
    raw = client(gateway).embeddings.with_raw_response.create(
        model="auto", input="the cat sat on the mat", encoding_format="float")
    result = raw.parse()
    assert raw.headers["x-junction-route"] == "embed"
    assert raw.headers["x-junction-model"] == "embed-api"
    assert raw.headers["x-junction-attempts"] == "embed-api:ok"
    assert raw.headers["x-junction-request-id"].startswith("jr-")
    assert float(raw.headers["x-junction-overhead-ms"]) >= 0
    assert result.object == "list" and result.model == API_SMALL
    assert [d.index for d in result.data] == [0] and result.data[0].object == "embedding"
    assert result.data[0].embedding == unit_vector(API_SMALL, "the cat sat on the mat", 64)
    assert result.usage.prompt_tokens == result.usage.total_tokens > 0
    sent = embedding_calls(api_url)
    assert len(sent) == 1 and sent[0]["body"]["model"] == API_SMALL
    assert sent[0]["body"]["input"] == "the cat sat on the mat"


def test_a_batch_with_dimensions_in_base64_as_the_sdk_asks_by_default(
    gateway: Gateway, api_url: str
) -> None:
    texts = ["alpha", "beta", "gamma"]
    result = client(gateway).embeddings.create(model="embed", input=texts, dimensions=16,
                                               user="team-search",
                                               extra_body={"truncate_prompt_tokens": 32})
    sent = embedding_calls(api_url)[0]["body"]
    assert sent["encoding_format"] == "base64" and sent["dimensions"] == 16
    # `user` and fields Junction does not know pass through to the model.
    assert sent["user"] == "team-search" and sent["truncate_prompt_tokens"] == 32
    assert [d.index for d in result.data] == [0, 1, 2]
    for item, text in zip(result.data, texts, strict=True):
        # The SDK decoded Junction's base64 (little-endian float32) back into floats.
        assert item.embedding == pytest.approx(unit_vector(API_SMALL, text, 16), abs=1e-7)


def test_base64_on_the_wire_is_little_endian_float32(gateway: Gateway) -> None:
    response = httpx.post(gateway.v1 + "/embeddings", json={
        "model": "embed-local", "input": ["one", "two"], "encoding_format": "base64"})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    raw = base64.b64decode(data[1]["embedding"])
    floats = list(struct.unpack(f"<{len(raw) // 4}f", raw))
    assert floats == unit_vector(LOCAL_EMBED, "two", 64)
    assert response.headers["x-junction-route"] == "direct:embed-local"


def test_token_id_inputs_are_embedded_locally_only(gateway: Gateway, api_url: str,
                                                   vllm_url: str) -> None:
    raw = client(gateway).embeddings.with_raw_response.create(
        model="auto", input=[[101, 2023, 102], [7, 8]], encoding_format="float")
    assert raw.headers["x-junction-model"] == "embed-local"
    assert len(raw.parse().data) == 2
    assert embedding_calls(api_url) == []
    assert embedding_calls(vllm_url)[0]["body"]["input"] == [[101, 2023, 102], [7, 8]]
    # A route of external models cannot take them (fail-closed, 503), nor can an external
    # model named directly (the egress guard, 403): nothing is sent.
    with pytest.raises(openai.InternalServerError) as route:
        client(gateway).embeddings.create(model="embed-external", input=[1, 2, 3])
    assert route.value.status_code == 503 and route.value.code == "no_local_model_available"
    with pytest.raises(openai.PermissionDeniedError) as direct:
        client(gateway).embeddings.create(model="embed-api", input=[1, 2, 3])
    assert direct.value.code == "sensitive_data_blocked"
    assert "token_ids" in direct.value.message
    assert embedding_calls(api_url) == []


def test_sensitive_input_stays_local_or_is_refused(gateway: Gateway, api_url: str,
                                                   vllm_url: str) -> None:
    texts = ["quarterly plan", f"write to {EMAIL} about it"]
    raw = client(gateway).embeddings.with_raw_response.create(model="auto", input=texts)
    assert raw.headers["x-junction-model"] == "embed-local"
    assert raw.headers["x-junction-sensitivity"] == "pii"
    assert embedding_calls(api_url) == []
    assert embedding_calls(vllm_url)[0]["body"]["input"] == texts
    # A route of external models only is fail-closed (503); an external model named directly
    # is forbidden (403). Nothing is sent either way.
    with pytest.raises(openai.InternalServerError) as route:
        client(gateway).embeddings.create(model="embed-external", input=texts)
    assert route.value.status_code == 503 and route.value.code == "no_local_model_available"
    with pytest.raises(openai.PermissionDeniedError) as direct:
        client(gateway).embeddings.create(model="embed-api", input=texts)
    assert direct.value.code == "sensitive_data_external_model"
    assert embedding_calls(api_url) == []


def test_the_egress_guard_checks_the_exact_body(vllm_url: str, api_url: str,
                                                tmp_path: Path) -> None:
    from router.classify.types import Classification, Sensitivity, Task

    class Blind:
        """A classifier that sees nothing: only the egress guard stands in the way."""

        def classify(self, body: Any, *, min_sensitivity: Sensitivity = Sensitivity.NONE
                     ) -> Classification:
            return Classification(task=Task.CHAT, difficulty=0.1, sensitivity=min_sensitivity)

    with running_gateway(policy(vllm_url, api_url), tmp_path, ENV, classifier=Blind()) as gw:
        raw = client(gw).embeddings.with_raw_response.create(
            model="auto", input=[f"mail {EMAIL}"], encoding_format="float")
        assert raw.headers["x-junction-attempts"] == "embed-api:refused_egress,embed-local:ok"
        with pytest.raises(openai.PermissionDeniedError) as refused:
            client(gw).embeddings.create(model="embed-external", input=f"mail {EMAIL}")
        assert refused.value.code == "sensitive_data_blocked"
    assert embedding_calls(api_url) == []


@pytest.mark.parametrize(("change", "outcome"), [
    ({"fail_next": 1, "error_status": 503}, "503"),
    ({"embedding_fault": "count"}, "invalid_response"),
    ({"embedding_fault": "dimensions"}, "invalid_response"),
    ({"embedding_fault": "nan"}, "invalid_response"),
])
def test_a_failed_or_invalid_answer_falls_back_to_the_next_candidate(
    gateway: Gateway, api_url: str, change: dict[str, Any], outcome: str
) -> None:
    emulator_config(api_url, **change)
    raw = client(gateway).embeddings.with_raw_response.create(
        model="auto", input=["first", "second"], encoding_format="float")
    assert raw.headers["x-junction-attempts"] == f"embed-api:{outcome},embed-local:ok"
    data = raw.parse().data
    assert [d.embedding for d in data] == [unit_vector(LOCAL_EMBED, t, 64)
                                           for t in ("first", "second")]


def test_every_candidate_failing_is_a_502_in_openai_shape(gateway: Gateway,
                                                          api_url: str) -> None:
    emulator_config(api_url, error_rate=1.0, error_status=500)
    try:
        with pytest.raises(openai.APIStatusError) as failed:
            client(gateway).embeddings.create(model="embed-external", input="hi")
    finally:
        emulator_config(api_url, error_rate=0.0)
    assert failed.value.status_code == 502
    assert "embed-api-large" in failed.value.message


@pytest.mark.parametrize(("body", "status", "param"), [
    ({"model": "auto"}, 400, "input"),
    ({"model": "auto", "input": ""}, 400, "input"),
    ({"model": "auto", "input": []}, 400, "input"),
    ({"model": "auto", "input": ["ok", ""]}, 400, "input[1]"),
    ({"model": "auto", "input": ["ok", [1, 2]]}, 400, "input"),
    ({"model": "auto", "input": [[1, -2]]}, 400, "input[0]"),
    ({"model": "auto", "input": ["x"] * 9}, 400, "input"),
    ({"model": "auto", "input": "y" * 400}, 400, "input"),
    ({"model": "auto", "input": "x", "encoding_format": "int8"}, 400, "encoding_format"),
    ({"model": "auto", "input": "x", "dimensions": 0}, 400, "dimensions"),
    ({"model": "auto", "input": "x", "dimensions": True}, 400, "dimensions"),
    ({"model": "auto", "input": "x", "user": 7}, 400, "user"),
    ({"input": "x"}, 400, "model"),
    ({"model": "nope", "input": "x"}, 404, "model"),
])
def test_bad_input_gets_a_clear_openai_error(gateway: Gateway, api_url: str, vllm_url: str,
                                             body: dict[str, Any], status: int,
                                             param: str) -> None:
    response = httpx.post(gateway.v1 + "/embeddings", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["message"] and error["type"]
    assert response.headers.get("x-request-id") or error.get("request_id")
    assert embedding_calls(api_url) == [] and embedding_calls(vllm_url) == []


def test_a_body_that_is_not_json_is_a_400(gateway: Gateway) -> None:
    response = httpx.post(gateway.v1 + "/embeddings", content=b"{nope",
                          headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"


def test_models_of_the_wrong_kind_are_a_400_on_either_door(gateway: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as chat_on_embeddings:
        client(gateway).embeddings.create(model="chat-local", input="x")
    assert chat_on_embeddings.value.code == "model_kind_mismatch"
    assert "embed-local" in chat_on_embeddings.value.message
    with pytest.raises(openai.BadRequestError) as route_on_embeddings:
        client(gateway).embeddings.create(model="default", input="x")
    assert route_on_embeddings.value.code == "model_kind_mismatch"
    for name in ("embed-api", "embed"):
        with pytest.raises(openai.BadRequestError) as embedding_on_chat:
            client(gateway).chat.completions.create(
                model=name, messages=[{"role": "user", "content": "hi"}])
        assert embedding_on_chat.value.code == "model_kind_mismatch"
    # `auto` on the chat door never lands on an embedding route.
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-junction-route"] == "default"


def test_models_lists_and_retrieves_embedding_models(gateway: Gateway) -> None:
    sdk = client(gateway)
    listed = {m.id: m for m in sdk.models.list().data}
    assert {"embed-local", "embed-api", "embed", "chat-local", "auto"} <= set(listed)
    model = sdk.models.retrieve("embed-local")
    extra: dict[str, Any] = model.model_extra["junction"]  # type: ignore[index]
    assert extra["model_kind"] == "embedding" and extra["dimensions"] == 64
    route = sdk.models.retrieve("embed").model_extra["junction"]  # type: ignore[index]
    assert route["model_kind"] == "embedding"
    assert sdk.models.retrieve("chat-local").model_extra["junction"]["model_kind"] == "chat"  # type: ignore[index]


def test_each_request_is_recorded_and_counted(gateway: Gateway) -> None:
    raw = client(gateway).embeddings.with_raw_response.create(
        model="auto", input=["a", "b", "c"], encoding_format="float")
    request_id = raw.headers["x-junction-request-id"]
    store = gateway.app.state.stats

    async def fetch() -> Any:
        return await store.get_record(request_id)

    record = None
    for _ in range(50):
        record = asyncio.run(fetch())
        if record is not None:
            break
    assert record is not None
    assert record.door == "embeddings" and record.route == "embed"
    assert record.answered_by == "embed-api" and record.tokens_out == 0
    assert record.tokens_in == raw.parse().usage.prompt_tokens > 0
    assert record.cost_usd == pytest.approx(record.tokens_in * 0.02 / 1e6)
    metrics = httpx.get(gateway.url + "/metrics").text
    assert 'junction_embedding_inputs_total{model="embed-api"} 3.0' in metrics
    assert 'junction_requests_total{model="embed-api",route="embed",status="200"} 1.0' in metrics


def test_budgets_charge_input_tokens_and_refuse_at_the_limit(gateway: Gateway) -> None:
    auth = {"authorization": f"Bearer {ADMIN}"}
    team = httpx.post(gateway.url + "/admin/teams", headers=auth, json={
        "name": "retrieval", "limits": {"daily_usd": 0.00002}})
    assert team.status_code in (200, 201), team.text
    created = httpx.post(gateway.url + "/admin/keys", headers=auth,
                         json={"team": "retrieval"}).json()
    sdk = client(gateway, created["key"])
    text = "a sentence of about forty characters ok"
    statuses: list[int] = []
    for _ in range(40):
        try:
            sdk.embeddings.create(model="embed-api", input=[text] * 8, encoding_format="float")
            statuses.append(200)
        except openai.APIStatusError as exc:
            statuses.append(exc.status_code)
            assert exc.code == "budget_exceeded"
            break
    assert statuses[0] == 200 and statuses[-1] == 429, statuses

    def spent() -> float:
        lines = httpx.get(gateway.url + "/admin/spend", headers=auth,
                          params={"team": "retrieval"}).json()["budgets"]
        return float(next(b["spent_usd"] for b in lines if b["window"] == "day"))

    for _ in range(100):
        if spent() > 0:
            break
    # Charged by input tokens (the upstream's count) at $0.02 per million, never over the limit.
    assert 0 < spent() <= 0.00002


def test_the_default_policy_embeds_on_its_local_embedding_model(tmp_path: Path) -> None:
    served = "Qwen/Qwen3-Embedding-0.6B"
    with run_in_thread(create_vllm_app(EmulatorBehaviour(
            models=(served,), embedding_dimensions=1024))) as embedding:
        env = {"JUNCTION_EMBEDDING_URL": embedding, "OPENAI_API_KEY": "sk-o",
               "ANTHROPIC_API_KEY": "sk-a"}
        with running_gateway(DEFAULT_POLICY.read_text(), tmp_path, env) as gw:
            raw = client(gw).embeddings.with_raw_response.create(
                model="auto", input=["hello", f"mail {EMAIL}"])
            assert raw.headers["x-junction-route"] == "embeddings"
            assert raw.headers["x-junction-model"] == "local-embed"
            assert [len(d.embedding) for d in raw.parse().data] == [1024, 1024]


def test_the_demo_serves_embeddings_out_of_the_box() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "router.cli", "demo", "--port", str(port)], cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "demo did not start"
                assert proc.poll() is None, "demo exited"
                time.sleep(0.3)
        with openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="demo",
                           max_retries=0, timeout=10) as sdk:
            raw = sdk.embeddings.with_raw_response.create(model="auto", input=["a", "b"])
            assert raw.headers["x-junction-model"] == "local-embed"
            assert len(raw.parse().data[1].embedding) == 1024
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_a_litellm_embedding_model_is_checked_and_shaped_alike(
    vllm_url: str, api_url: str, tmp_path: Path
) -> None:
    text = policy(vllm_url, api_url).replace("""routes:
""", f"""  embed-litellm:
    backend: litellm
    kind: embedding
    model: openai/{API_LARGE}
    endpoints: ["{api_url}/v1"]
    api_key_env: TEST_API_KEY
    prices: {{input_per_million: 0.13}}
routes:
""")
    with running_gateway(text, tmp_path, ENV) as gw:
        sdk = client(gw)
        floats = sdk.embeddings.create(model="embed-litellm", input=["x", "y"],
                                       encoding_format="float", dimensions=8, timeout=60)
        assert [d.embedding for d in floats.data] == [unit_vector(API_LARGE, t, 8)
                                                       for t in ("x", "y")]
        assert floats.usage.prompt_tokens > 0
        decoded = sdk.embeddings.create(model="embed-litellm", input="z", timeout=60)
        assert decoded.data[0].embedding == pytest.approx(unit_vector(API_LARGE, "z", 64),
                                                          abs=1e-7)
        emulator_config(api_url, embedding_fault="count")
        with pytest.raises(openai.APIStatusError) as invalid:
            sdk.embeddings.create(model="embed-litellm", input=["x", "y"], timeout=60)
        assert invalid.value.status_code == 502 or invalid.value.status_code == 503
        assert "invalid_response" in invalid.value.message


def test_explain_decides_an_embeddings_body_as_serving_would(gateway: Gateway,
                                                             api_url: str) -> None:
    def explain(body: dict[str, Any], query: str = "?shape=embeddings") -> dict[str, Any]:
        r = httpx.post(gateway.v1 + "/route/explain" + query, json=body, timeout=10)
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    plain = explain({"model": "auto", "input": ["hello"]})
    # Detected without ?shape= (a list of strings is no Responses input), and decided among the
    # embedding routes, not the chat routes.
    assert explain({"model": "auto", "input": ["hello"]}, query="") == plain
    assert plain["route"] == "embed" and plain["attempt_order"] == ["embed-api", "embed-local"]
    assert plain["shape"] == "embeddings"
    sensitive = explain({"model": "auto", "input": [f"mail {EMAIL}"]})
    assert sensitive["attempt_order"] == ["embed-local"]
    assert sensitive["classification"]["sensitivity"] == "pii"
    wrong = explain({"model": "chat-local", "input": "x"})
    assert wrong["rejection"]["code"] == "model_kind_mismatch"
    assert embedding_calls(api_url) == []  # explain calls nothing


def test_an_answer_over_the_size_limit_fails_the_attempt(vllm_url: str, api_url: str,
                                                         tmp_path: Path) -> None:
    with running_gateway(policy(vllm_url, api_url), tmp_path, ENV,
                         limits={"max_response_bytes": 4096}) as gw:
        small = client(gw).embeddings.create(model="auto", input="one", dimensions=8,
                                              encoding_format="float")
        assert len(small.data[0].embedding) == 8
        with pytest.raises(openai.APIStatusError) as failed:
            client(gw).embeddings.create(model="auto", input=["text"] * 8,
                                         encoding_format="float")
    assert failed.value.status_code == 502
    assert "embed-api: response_too_large" in failed.value.message
    assert "embed-local: response_too_large" in failed.value.message


def test_a_missing_embedding_server_does_not_take_the_gateway_out_of_service(
    tmp_path: Path,
) -> None:
    from junction_emulate import create_anthropic_app
    from tests.support.gateway import closed_port_url

    with run_in_thread(create_vllm_app(EmulatorBehaviour(models=("qwen3.5-35b-a3b",)))) as local, \
         run_in_thread(create_openai_app(EmulatorBehaviour(
             models=("gpt-4o", "gpt-4o-mini"), api_key="sk-o"))) as api, \
         run_in_thread(create_anthropic_app(EmulatorBehaviour(
             models=("claude-sonnet-4-5",), api_key="sk-a"))) as anthropic:
        env = {"JUNCTION_LOCAL_URL": local, "OPENAI_BASE_URL": api + "/v1",
               "OPENAI_API_KEY": "sk-o", "ANTHROPIC_BASE_URL": anthropic,
               "ANTHROPIC_API_KEY": "sk-a", "JUNCTION_EMBEDDING_URL": closed_port_url()}
        with running_gateway(DEFAULT_POLICY.read_text(), tmp_path, env) as gw:
            ready = httpx.get(gw.url + "/health/ready", timeout=10)
            with pytest.raises(openai.InternalServerError) as down:
                client(gw).embeddings.create(model="auto", input="x")
    assert ready.status_code == 200, ready.text
    embeddings = ready.json()["checks"]["routes"]["embeddings"]
    assert embeddings["ok"] is False and embeddings["required"] is False
    assert down.value.status_code == 503


def test_what_if_replays_embeddings_requests_among_embedding_routes(gateway: Gateway) -> None:
    sdk = client(gateway)
    for _ in range(2):
        sdk.embeddings.create(model="auto", input=["some text"], encoding_format="float")
    sdk.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    auth = {"authorization": f"Bearer {ADMIN}"}

    def whatif() -> dict[str, Any]:
        r = httpx.post(gateway.url + "/admin/policy/whatif", headers=auth, timeout=30,
                       json={"version_id": 1})
        assert r.status_code == 200, r.text
        return dict(r.json())

    deadline = time.monotonic() + 20
    while whatif()["requests"] < 3:  # records reach the database in batches
        assert time.monotonic() < deadline, "records were not written"
    same = whatif()
    assert same["routes"]["before"] == same["routes"]["after"] == {"embed": 2, "default": 1}


def test_rate_limits_apply_to_embeddings(gateway: Gateway) -> None:
    auth = {"authorization": f"Bearer {ADMIN}"}
    team = httpx.post(gateway.url + "/admin/teams", headers=auth, json={
        "name": "limited", "limits": {"requests_per_minute": 2}})
    assert team.status_code in (200, 201), team.text
    key = httpx.post(gateway.url + "/admin/keys", headers=auth,
                     json={"team": "limited"}).json()["key"]
    sdk = client(gateway, key)
    for _ in range(2):
        sdk.embeddings.create(model="auto", input="x", encoding_format="float")
    with pytest.raises(openai.RateLimitError) as limited:
        sdk.embeddings.create(model="auto", input="x", encoding_format="float")
    assert limited.value.status_code == 429
    assert int(limited.value.response.headers["retry-after"]) > 0
