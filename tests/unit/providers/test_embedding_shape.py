"""Upstream embedding answers are untrusted: each is checked against what was asked."""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

import pytest

from router.providers.base import AttemptFailed
from router.providers.embedding_shape import EmbeddingAsk, checked_embeddings, encode_base64


def answer(vectors: list[Any], **extra: Any) -> dict[str, Any]:
    return {"object": "list", "model": "m",
            "data": [{"object": "embedding", "index": i, "embedding": v}
                     for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": 7, "total_tokens": 7}, **extra}


def b64(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def test_a_valid_answer_comes_back_in_openai_shape() -> None:
    done = checked_embeddings(answer([[0.5, 0.25], [1.0, -1.0]]), EmbeddingAsk(2), "x", 1.0)
    assert done.body == {
        "object": "list", "model": "m",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.5, 0.25]},
                 {"object": "embedding", "index": 1, "embedding": [1.0, -1.0]}],
        "usage": {"prompt_tokens": 7, "total_tokens": 7}}
    assert done.usage.prompt_tokens == 7 and done.usage.reported and done.dimensions == 2


def test_indexes_put_vectors_in_order() -> None:
    obj = answer([[1.0], [2.0]])
    obj["data"].reverse()
    done = checked_embeddings(obj, EmbeddingAsk(2), "x", 0.0)
    assert [d["embedding"] for d in done.body["data"]] == [[1.0], [2.0]]


@pytest.mark.parametrize(("asked", "given"), [("base64", [0.5, -0.25]),
                                               ("float", b64([0.5, -0.25]))])
def test_the_encoding_is_the_one_asked_for(asked: str, given: Any) -> None:
    done = checked_embeddings(answer([given]), EmbeddingAsk(1, asked), "x", 0.0)  # type: ignore[arg-type]
    vector = done.body["data"][0]["embedding"]
    assert vector == (b64([0.5, -0.25]) if asked == "base64" else [0.5, -0.25])
    assert encode_base64([0.5, -0.25]) == b64([0.5, -0.25])


@pytest.mark.parametrize(("obj", "ask", "why"), [
    (answer([[1.0]]), EmbeddingAsk(2), "1 embeddings for 2 inputs"),
    (answer([[1.0], [1.0, 2.0]]), EmbeddingAsk(2), "different lengths"),
    (answer([[1.0, 2.0]]), EmbeddingAsk(1, dimensions=3), "3 were asked for"),
    (answer([[1.0, "x"]]), EmbeddingAsk(1), "not a number"),
    (answer([[1.0, None]]), EmbeddingAsk(1), "not a number"),
    (answer([b64([1.0, math.nan])]), EmbeddingAsk(1), "not finite"),
    (answer([b64([math.inf])]), EmbeddingAsk(1, "base64"), "not finite"),
    (answer(["!!!"]), EmbeddingAsk(1), "not valid base64"),
    (answer([base64.b64encode(b"abc").decode()]), EmbeddingAsk(1), "not float32s"),
    (answer([{"v": 1}]), EmbeddingAsk(1), "neither a list"),
    (answer([[]]), EmbeddingAsk(1), "different lengths"),
    ({"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [1.0]}]},
     EmbeddingAsk(2), "repeated"),
    ({"data": "nope"}, EmbeddingAsk(1), "no embeddings"),
    ({"error": {"message": "boom"}}, EmbeddingAsk(1), "an error body"),
    ([1, 2], EmbeddingAsk(1), "not an object"),
])
def test_an_invalid_answer_fails_the_attempt_so_another_model_may_serve(
    obj: Any, ask: EmbeddingAsk, why: str
) -> None:
    with pytest.raises(AttemptFailed) as failed:
        checked_embeddings(obj, ask, "x", 0.0)
    assert failed.value.retryable and failed.value.outcome == "invalid_response"
    assert why in failed.value.message


def test_huge_but_finite_numbers_pass_and_booleans_become_numbers() -> None:
    done = checked_embeddings(answer([[1.7e308, 1.7e308, True]]), EmbeddingAsk(1), "x", 0.0)
    assert done.body["data"][0]["embedding"] == [1.7e308, 1.7e308, 1.0]


def test_untrusted_usage_is_ignored_not_fatal() -> None:
    done = checked_embeddings(answer([[1.0]], usage={"prompt_tokens": -3}), EmbeddingAsk(1),
                              "x", 0.0)
    assert not done.usage.reported and done.usage.prompt_tokens == 0


def test_an_answer_already_in_shape_is_forwarded_as_it_came() -> None:
    import orjson

    obj = answer([b64([0.5]), b64([0.25])], id="embd-1")
    raw = orjson.dumps(obj)
    kept = checked_embeddings(obj, EmbeddingAsk(2, "base64"), "x", 0.0, raw=raw)
    assert kept.encoded() == raw
    # Re-encoded, re-ordered or without usage: Junction writes the body itself.
    for changed, ask in ((answer([[0.5], [0.25]]), EmbeddingAsk(2, "base64")),
                         ({**obj, "data": obj["data"][::-1]}, EmbeddingAsk(2, "base64")),
                         ({k: v for k, v in obj.items() if k != "usage"},
                          EmbeddingAsk(2, "base64"))):
        out = checked_embeddings(changed, ask, "x", 0.0, raw=orjson.dumps(changed))
        assert out.raw is None
        assert orjson.loads(out.encoded())["data"][1]["embedding"] == b64([0.25])


def test_base64_with_a_stray_character_is_refused() -> None:
    good = b64([0.5, 0.25])
    with pytest.raises(AttemptFailed):
        checked_embeddings(answer([good[:-4] + "!" + good[-3:]]), EmbeddingAsk(1), "x", 0.0)
