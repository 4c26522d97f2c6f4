"""`POST /v1/embeddings`, as OpenAI and vLLM's OpenAI-compatible server answer it.

Vectors are deterministic (a hash of the model and the input, so the same text always gets the
same vector) and unit length; `dimensions` shortens them (Matryoshka-style, up to the
behaviour's `embedding_dimensions`); `encoding_format: base64` sends little-endian float32, as
both servers do. vLLM adds `id`, `created` and vLLM's usage fields.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
import time
from typing import Any

from junction_emulate.asgi import Request
from junction_emulate.errors import EmulatedError
from junction_emulate.fields import required_str
from junction_emulate.openai_protocol import ChatFlavour
from junction_emulate.pacing import NULL_OBSERVER
from junction_emulate.serving import Running, check_bearer, misbehave, read_json_object
from junction_emulate.state import EmulatorState

_FORMATS = ("float", "base64")


class Embeddings:
    """POST /v1/embeddings for the OpenAI and vLLM emulators."""

    def __init__(self, state: EmulatorState, flavour: ChatFlavour) -> None:
        self._state = state
        self._flavour = flavour

    async def __call__(self, request: Request) -> None:
        state = self._state
        body = read_json_object(request, state)
        behaviour = state.behaviour
        check_bearer(request, behaviour)
        model = required_str(body, "model")
        if behaviour.models and model not in behaviour.models:
            raise _unknown_model(model, self._flavour)
        inputs = parse_inputs(body.get("input"))
        encoding = body.get("encoding_format", "float")
        if encoding not in _FORMATS:
            raise EmulatedError(400, f"Invalid value for 'encoding_format': {encoding!r}; "
                                "expected 'float' or 'base64'.", param="encoding_format")
        size = behaviour.embedding_dimensions
        dimensions = body.get("dimensions")
        if dimensions is not None:
            if isinstance(dimensions, bool) or not isinstance(dimensions, int) \
                    or not 1 <= dimensions <= size:
                raise EmulatedError(400, f"dimensions must be an integer from 1 to {size} for "
                                    f"this model, got {dimensions!r}.", param="dimensions")
            size = dimensions
        await misbehave(request, state, behaviour)
        async with Running(request, state, NULL_OBSERVER):
            fault = behaviour.embedding_fault
            vectors = [unit_vector(model, item, size) for item in inputs]
            if fault == "count":
                vectors = vectors[:-1] or [vectors[0], vectors[0]]
            elif fault == "dimensions":
                vectors[-1] = vectors[-1][:-1] or [0.5, 0.5]
            elif fault == "nan":
                vectors[0][0] = math.nan
            data = [{"object": "embedding", "index": i,
                     "embedding": encode_base64(v) if encoding == "base64" or fault == "nan"
                     else v}
                    for i, v in enumerate(vectors)]
            tokens = behaviour.prompt_tokens or sum(_tokens(item) for item in inputs)
            await request.respond_json(200, self._body(model, data, tokens))

    def _body(self, model: str, data: list[dict[str, Any]], tokens: int) -> dict[str, Any]:
        if not self._flavour.vllm:
            return {"object": "list", "data": data, "model": model,
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        return {"id": self._state.new_id("embd-", 32), "object": "list",
                "created": int(time.time()), "model": model, "data": data,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens,
                          "completion_tokens": 0, "prompt_tokens_details": None}}


def parse_inputs(value: Any) -> list[str | list[int]]:
    """`input` as OpenAI accepts it: a string, strings, token ids or lists of token ids."""
    if isinstance(value, str):
        items: list[Any] = [value]
    elif isinstance(value, list) and value and all(_is_token(x) for x in value):
        items = [value]
    elif isinstance(value, list) and value:
        items = value
    else:
        raise EmulatedError(400, "'input' must be a non-empty string or array.", param="input")
    for i, item in enumerate(items):
        ok = (isinstance(item, str) and item) or (
            isinstance(item, list) and item and all(_is_token(x) for x in item))
        if not ok:
            raise EmulatedError(400, f"Invalid 'input[{i}]': expected a non-empty string or "
                                "array of token ids.", param="input")
    return items


def unit_vector(model: str, item: str | list[int], size: int) -> list[float]:
    """A deterministic unit vector for `item` (the first `size` of the full vector, scaled)."""
    seed = item if isinstance(item, str) else ",".join(map(str, item))
    values: list[float] = []
    counter = 0
    while len(values) < size:
        digest = hashlib.sha256(f"{model}\0{seed}\0{counter}".encode()).digest()
        values.extend((b - 127.5) / 127.5 for b in digest)
        counter += 1
    values = values[:size]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    # Rounded through float32, so float and base64 answers carry the same numbers.
    return [struct.unpack("<f", struct.pack("<f", v / norm))[0] for v in values]


def encode_base64(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode("ascii")


def _tokens(item: str | list[int]) -> int:
    return max(1, (len(item) + 3) // 4) if isinstance(item, str) else len(item)


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _unknown_model(model: str, flavour: ChatFlavour) -> EmulatedError:
    if flavour.vllm:
        return EmulatedError(404, f"The model `{model}` does not exist.", param="model")
    return EmulatedError(404, f"The model `{model}` does not exist or you do not have access "
                         "to it.", code="model_not_found")


__all__ = ["Embeddings", "encode_base64", "parse_inputs", "unit_vector"]
