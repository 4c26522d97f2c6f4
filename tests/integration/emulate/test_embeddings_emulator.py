"""The emulators' `/v1/embeddings`, in each server's own wire format."""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator

import httpx
import pytest

from junction_emulate import EmulatorBehaviour, create_openai_app, create_vllm_app, run_in_thread
from junction_emulate.embeddings import unit_vector


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    with run_in_thread(create_vllm_app(EmulatorBehaviour(models=("e5",)))) as vllm, \
         run_in_thread(create_openai_app(EmulatorBehaviour(
             models=("text-embedding-3-small",), api_key="sk-e"))) as api:
        yield {"vllm": vllm, "openai": api}


def test_vllm_answers_with_its_id_created_and_usage_fields(servers: dict[str, str]) -> None:
    r = httpx.post(servers["vllm"] + "/v1/embeddings",
                   json={"model": "e5", "input": ["a b c d", "e"], "dimensions": 4})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"].startswith("embd-") and isinstance(body["created"], int)
    assert body["usage"] == {"prompt_tokens": 3, "total_tokens": 3, "completion_tokens": 0,
                             "prompt_tokens_details": None}
    assert [d["embedding"] for d in body["data"]] == [unit_vector("e5", "a b c d", 4),
                                                       unit_vector("e5", "e", 4)]
    norm = sum(v * v for v in body["data"][0]["embedding"])
    assert norm == pytest.approx(1.0, abs=1e-5)


def test_openai_answers_in_its_shape_with_base64(servers: dict[str, str]) -> None:
    r = httpx.post(servers["openai"] + "/v1/embeddings",
                   headers={"authorization": "Bearer sk-e"},
                   json={"model": "text-embedding-3-small", "input": [[1, 2, 3]],
                         "encoding_format": "base64"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"object", "data", "model", "usage"}
    raw = base64.b64decode(body["data"][0]["embedding"])
    assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == unit_vector(
        "text-embedding-3-small", [1, 2, 3], 64)
    assert body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}


@pytest.mark.parametrize(("flavour", "body", "status"), [
    ("vllm", {"model": "e5", "input": ""}, 400),
    ("vllm", {"model": "e5", "input": []}, 400),
    ("vllm", {"model": "e5", "input": "x", "dimensions": 65}, 400),
    ("vllm", {"model": "e5", "input": "x", "encoding_format": "int8"}, 400),
    ("vllm", {"model": "other", "input": "x"}, 404),
    ("openai", {"model": "text-embedding-3-small", "input": "x"}, 401),  # no key
])
def test_bad_requests_get_the_servers_errors(servers: dict[str, str], flavour: str,
                                             body: dict[str, object], status: int) -> None:
    r = httpx.post(servers[flavour] + "/v1/embeddings", json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["message"]
