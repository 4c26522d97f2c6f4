"""The most tokens a chat request can be billed for, so a budget reservation is an upper bound.

No tokenizer is needed (none ships offline for the API models, and a fallback may use another
model's): every tokenizer Junction routes to is byte-level BPE or SentencePiece with byte
fallback, where each token covers at least one UTF-8 byte, so a string of N bytes is at most N
tokens. On top of the text come generous allowances for what the upstream adds itself:

- `PER_MESSAGE_TOKENS` per message (OpenAI adds 3-4 for role and separators; chat templates
  such as Qwen's `<|im_start|>role\\n...<|im_end|>\\n` add about 5);
- `PER_REQUEST_TOKENS` once (OpenAI primes the reply with 3; templates add a header);
- `TOOLS_TEMPLATE_TOKENS` once when tools are sent (templates wrap tool schemas in
  instructions), plus the JSON bytes of `tools`, `functions` and `response_format`;
- each image at `image_tokens` (`accounts.reserve_image_tokens`) instead of its URL's bytes.

Output is the request's own cap (`max_completion_tokens`, else `max_tokens`, else
`reserve_output_tokens`) times `n`. The classifier's characters/4 figure stays what it is, an
estimate for routing; settlement always uses the usage the upstream reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

PER_MESSAGE_TOKENS = 16
PER_REQUEST_TOKENS = 32
TOOLS_TEMPLATE_TOKENS = 512
# JSON fields outside `messages` that reach the model as text.
_SCHEMA_FIELDS = ("tools", "functions", "response_format")
_IMAGE_PART_TYPES = frozenset({"image_url", "image", "input_image"})


@dataclass(frozen=True, slots=True)
class TokenBound:
    """Upper bounds on the prompt and output tokens one request can be billed for."""

    prompt_tokens: int
    output_tokens: int


def token_bound(
    data: Mapping[str, Any], *, default_output_tokens: int, image_tokens: int
) -> TokenBound:
    """The bound for a parsed chat-completions body (already validated by the protocol)."""
    messages = data.get("messages")
    count = len(messages) if isinstance(messages, list) else 0
    prompt = PER_REQUEST_TOKENS + PER_MESSAGE_TOKENS * count
    prompt += _value_bytes(messages, image_tokens)
    for name in _SCHEMA_FIELDS:
        value = data.get(name)
        if value is not None:
            prompt += len(orjson.dumps(value))
    if data.get("tools") or data.get("functions"):
        prompt += TOOLS_TEMPLATE_TOKENS
    return TokenBound(prompt_tokens=prompt, output_tokens=_output_cap(data, default_output_tokens))


def _output_cap(data: Mapping[str, Any], default: int) -> int:
    cap = data.get("max_completion_tokens") or data.get("max_tokens")
    per_choice = cap if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0 else default
    n = data.get("n")
    choices = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1
    return per_choice * choices


def _value_bytes(value: Any, image_tokens: int) -> int:
    """UTF-8 bytes of every string value (keys are the wire's, not the model's); images at
    their fixed allowance, since a data: URL's bytes are not what the model is billed for."""
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, list):
        return sum(_value_bytes(item, image_tokens) for item in value)
    if isinstance(value, Mapping):
        if value.get("type") in _IMAGE_PART_TYPES:
            return image_tokens
        return sum(_value_bytes(item, image_tokens) for item in value.values())
    if value is None or isinstance(value, bool):
        return 0
    # Numbers the template prints as text (rare in messages).
    return len(str(value))
