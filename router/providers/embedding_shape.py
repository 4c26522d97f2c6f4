"""Embedding answers from upstreams, checked and put in OpenAI's shape.

An upstream's answer is untrusted input: it must hold exactly one vector per input, each index
once, every vector of the same length (the requested `dimensions`, when asked), every number
finite, in OpenAI's `float` (JSON numbers) or `base64` (little-endian float32) encoding. Any
other 200 fails the attempt, so the executor can try the next model.
"""

from __future__ import annotations

import base64
import binascii
import math
import sys
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from router.providers.base import AttemptFailed, Usage, _token_count

EncodingFormat = Literal["float", "base64"]


@dataclass(frozen=True, slots=True)
class EmbeddingAsk:
    """What the caller asked for, which the answer must match."""

    inputs: int
    encoding_format: EncodingFormat = "float"
    dimensions: int | None = None


@dataclass(slots=True)
class Embedded:
    """A checked embeddings answer: the OpenAI-shaped body to return, and its usage."""

    body: dict[str, Any]
    usage: Usage
    upstream_ms: float
    dimensions: int = 0
    # The upstream's own bytes when they already are the answer (vectors in the asked
    # encoding and order, usage given): forwarded as they came, like chat answers.
    raw: bytes | None = None

    def encoded(self) -> bytes:
        return self.raw if self.raw is not None else orjson.dumps(self.body)


def checked_embeddings(obj: Any, ask: EmbeddingAsk, model: str,
                       upstream_ms: float, raw: bytes | None = None) -> Embedded:
    """The answer in OpenAI's shape and `ask`'s encoding; `AttemptFailed` (retryable) if the
    upstream's 200 is not a valid answer to `ask`. `raw`, the bytes `obj` was parsed from, is
    kept to forward when nothing needs changing."""
    if not isinstance(obj, Mapping):
        raise _invalid("JSON that is not an object")
    if obj.get("error") is not None:
        raise _invalid("an error body")
    data = obj.get("data")
    if not isinstance(data, list) or len(data) != ask.inputs:
        got = len(data) if isinstance(data, list) else "no"
        raise _invalid(f"{got} embeddings for {ask.inputs} inputs")
    vectors: list[Any] = [None] * ask.inputs
    size: int | None = None
    as_sent = raw is not None
    for position, item in enumerate(data):
        if not isinstance(item, Mapping):
            raise _invalid(f"data[{position}] is not an object")
        index = item.get("index", position)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < ask.inputs \
                or vectors[index] is not None:
            raise _invalid(f"data[{position}].index {index!r} is missing, out of range or "
                           "repeated")
        vector, length, same = _vector(item.get("embedding"), ask.encoding_format, position)
        as_sent = as_sent and same and index == position
        if size is None:
            size = length
        if length != size or length == 0:
            raise _invalid(f"vectors of different lengths ({size} and {length})")
        vectors[index] = vector
    if size is None:
        size = 0
    if ask.dimensions is not None and ask.inputs and size != ask.dimensions:
        raise _invalid(f"vectors of {size} dimensions where {ask.dimensions} were asked for")
    usage = Usage()
    raw_usage = obj.get("usage")
    if isinstance(raw_usage, Mapping):
        prompt = _token_count(raw_usage.get("prompt_tokens"))
        if prompt is not None:
            usage.prompt_tokens = prompt
            usage.reported = "prompt_tokens" in raw_usage
    answered = obj.get("model")
    as_sent = as_sent and usage.reported and isinstance(answered, str)
    body = {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": v}
                 for i, v in enumerate(vectors)],
        "model": answered if isinstance(answered, str) and len(answered) <= 256 else model,
        "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens},
    }
    return Embedded(body=body, usage=usage, upstream_ms=upstream_ms, dimensions=size,
                    raw=raw if as_sent else None)


def _vector(value: Any, encoding: EncodingFormat, position: int) -> tuple[Any, int, bool]:
    """The vector as the caller wants it, its length, and whether that is the value as it came;
    checks every number is finite."""
    if isinstance(value, str):
        floats = _decode_base64(value, position)
        if encoding == "base64":
            return value, len(floats), True
        return floats.tolist(), len(floats), False
    if not isinstance(value, list):
        raise _invalid(f"data[{position}].embedding is neither a list of numbers nor base64")
    try:
        floats = array("d", value)
    except TypeError:
        raise _invalid(f"data[{position}].embedding holds something that is not a number") \
            from None
    if not _all_finite(floats):
        raise _invalid(f"data[{position}].embedding holds a number that is not finite")
    if encoding == "base64":
        return encode_base64(floats), len(floats), False
    # A JSON `true` would pass array("d") as 1.0: send the numbers, not what was written.
    exact = bool not in set(map(type, value))
    return (value if exact else floats.tolist()), len(floats), exact


def _all_finite(floats: array[float]) -> bool:
    """Whether every number is finite: a sum (in C) is finite unless one is not, or unless
    huge values overflow it, which only the exact check then tells apart."""
    return math.isfinite(sum(floats)) or all(map(math.isfinite, floats))


def _decode_base64(text: str, position: int) -> array[float]:
    # The lenient decoder is several times faster than validate=True; a character outside the
    # alphabet, which it skips, shows as bytes missing from what the length promises.
    padding = len(text) - len(text.rstrip("="))
    try:
        raw = base64.b64decode(text)
    except (binascii.Error, ValueError):
        raise _invalid(f"data[{position}].embedding is not valid base64") from None
    if len(text) % 4 or padding > 2 or len(raw) != len(text) // 4 * 3 - padding:
        raise _invalid(f"data[{position}].embedding is not valid base64")
    if len(raw) % 4:
        raise _invalid(f"data[{position}].embedding is {len(raw)} bytes, not float32s")
    floats = array("f")
    floats.frombytes(raw)
    if sys.byteorder == "big":
        floats.byteswap()
    if not _all_finite(floats):
        raise _invalid(f"data[{position}].embedding holds a number that is not finite")
    return floats


def encode_base64(values: Any) -> str:
    """Numbers as OpenAI's base64 embedding: little-endian float32."""
    floats = array("f", values)
    if sys.byteorder == "big":
        floats.byteswap()
    return base64.b64encode(floats.tobytes()).decode("ascii")


def _invalid(what: str) -> AttemptFailed:
    return AttemptFailed("invalid_response",
                         f"upstream answered 200 with {what}, not embeddings for this request",
                         retryable=True)
