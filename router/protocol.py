"""OpenAI wire models for what Junction validates; everything else passes through unchanged.

Validation runs on a parsed dict and only checks what routing relies on and what OpenAI itself
rejects; unknown fields are allowed (`extra="allow"`) because they belong to the chosen model.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, TypeAdapter, ValidationError

from router.errors import InvalidRequest


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class FunctionDef(_Open):
    name: str = Field(min_length=1, max_length=64)


class Tool(_Open):
    type: Literal["function"] = "function"
    function: FunctionDef


class StreamOptions(_Open):
    include_usage: StrictBool = False


class ResponseFormat(_Open):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None


class ContentPart(_Open):
    type: str = Field(min_length=1)


class Message(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class ChatCompletionRequest(_Open):
    model: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(None, ge=1, le=128)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    tools: list[Tool] | None = None
    response_format: ResponseFormat | None = None
    stop: str | list[str] | None = None
    seed: int | None = None

    @property
    def output_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    @property
    def wants_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=200)
    score: float | None = None
    thumbs: Literal["up", "down"] | None = None
    comment: str | None = Field(None, max_length=2000)


_CHAT = TypeAdapter(ChatCompletionRequest)


def parse_chat_request(data: Any) -> ChatCompletionRequest:
    """Validate a parsed body; raise `InvalidRequest` naming the first bad field."""
    if not isinstance(data, dict):
        raise InvalidRequest(
            f"the request body must be a JSON object, got {type(data).__name__}", param=None
        )
    try:
        return _CHAT.validate_python(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


def validation_error(exc: ValidationError) -> InvalidRequest:
    err = exc.errors()[0]
    param = dotted(err["loc"])
    shown = "" if err["type"] == "missing" else f" (got {_short(err.get('input'))})"
    what = "is required" if err["type"] == "missing" else err["msg"]
    more = f"; and {exc.error_count() - 1} more error(s)" if exc.error_count() > 1 else ""
    return InvalidRequest(f"{param}: {what}{shown}{more}", param=param)


def dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and "[" in part and part.endswith("]"):
            continue  # union tags such as 'list[ContentPart]'
        else:
            out += f".{part}" if out else str(part)
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
