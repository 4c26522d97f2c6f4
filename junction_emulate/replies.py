"""Deciding an emulated reply: its tokens (reasoning, text, JSON or tool arguments) and finish.

Pure and protocol-neutral: the OpenAI and Anthropic front-ends translate their requests into
an `Ask` and render the resulting `Reply` in their own wire format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import orjson

from junction_emulate.behaviour import EmulatorBehaviour
from junction_emulate.schema_values import placeholder_object

Finish = Literal["stop", "length", "tool_calls"]
ToolChoice = Literal["auto", "none", "required", "named"]
StepKind = Literal["reasoning", "content", "tool"]

_FILLER = (
    "this", "text", "stands", "in", "for", "a", "real", "model's", "answer", "so", "clients",
    "see", "realistic", "lengths", "timing", "and", "usage",
)  # fmt: skip
# JSON and tool arguments are streamed in slices of about one token's worth of characters.
_CHARS_PER_TOKEN = 4


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the caller offered: its name and JSON-schema parameters."""

    name: str
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ask:
    """What a chat request asks for, in terms common to every emulated protocol."""

    model: str
    prompt_tokens: int
    # The final message's text when a user wrote it; None after a tool result, say.
    user_text: str | None = None
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = "auto"
    named_tool: str | None = None
    json_mode: bool = False
    json_schema: Mapping[str, Any] | None = None
    max_tokens: int | None = None
    min_tokens: int = 0
    ignore_eos: bool = False
    thinking: bool = False


@dataclass(frozen=True, slots=True)
class ToolCall:
    """An emulated call of one of the offered tools."""

    id: str
    name: str
    # The arguments JSON as streamed, slice by slice (truncated when max_tokens cut it short).
    fragments: tuple[str, ...]

    @property
    def arguments(self) -> str:
        """The arguments as one JSON string."""
        return "".join(self.fragments)

    def arguments_object(self) -> dict[str, Any]:
        """The arguments parsed, or {} when max_tokens truncated them."""
        try:
            value = orjson.loads(self.arguments)
        except orjson.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class Reply:
    """One choice's output: the tokens in the order a stream emits them, and why it ended."""

    reasoning: tuple[str, ...]
    content: tuple[str, ...]
    tool_call: ToolCall | None
    finish: Finish

    @property
    def steps(self) -> tuple[tuple[StepKind, str], ...]:
        """Every token with its kind: reasoning, then content, then tool-argument slices."""
        tool = self.tool_call.fragments if self.tool_call is not None else ()
        return (
            tuple(("reasoning", t) for t in self.reasoning)
            + tuple(("content", t) for t in self.content)
            + tuple(("tool", t) for t in tool)
        )

    @property
    def completion_tokens(self) -> int:
        """Tokens generated, reasoning included."""
        tool = len(self.tool_call.fragments) if self.tool_call is not None else 0
        return len(self.reasoning) + len(self.content) + tool

    @property
    def text(self) -> str:
        """The content as one string."""
        return "".join(self.content)

    @property
    def reasoning_text(self) -> str:
        """The reasoning as one string."""
        return "".join(self.reasoning)


def compose(ask: Ask, behaviour: EmulatorBehaviour, tool_call_id: str) -> Reply:
    """The reply an emulator gives to `ask`, capped by max_tokens (finish "length")."""
    reasoning = _reasoning_tokens(ask.model, behaviour.reasoning_tokens) if ask.thinking else ()
    tool = chosen_tool(ask)
    content: tuple[str, ...] = ()
    fragments: tuple[str, ...] = ()
    if tool is not None:
        fragments = _slices(orjson.dumps(placeholder_object(tool.parameters)).decode())
    elif ask.json_mode or ask.json_schema is not None:
        content = _slices(_json_reply(ask))
    else:
        length = behaviour.completion_tokens
        if ask.ignore_eos and ask.max_tokens is not None:
            length = ask.max_tokens
        # vLLM's min_tokens counts every generated token, reasoning included.
        content = _content_tokens(ask.model, max(length, ask.min_tokens - len(reasoning)))
    finish: Finish = "tool_calls" if tool is not None else "stop"
    budget = ask.max_tokens
    total = len(reasoning) + len(content) + len(fragments)
    # With ignore_eos only max_tokens ends generation, so reaching it is a "length" finish.
    if budget is not None and (total > budget or (ask.ignore_eos and total >= budget)):
        finish = "length"
        reasoning = reasoning[:budget]
        left = budget - len(reasoning)
        content, fragments = content[:left], fragments[:left]
    call = ToolCall(tool_call_id, tool.name, fragments) if tool is not None and fragments else None
    return Reply(reasoning, content, call, finish)


def chosen_tool(ask: Ask) -> ToolSpec | None:
    """The tool to call: the named one, any one when required, or one the user mentioned."""
    if not ask.tools or ask.tool_choice == "none":
        return None
    if ask.tool_choice == "named":
        return next((t for t in ask.tools if t.name == ask.named_tool), None)
    text = (ask.user_text or "").lower()
    mentioned = next((t for t in ask.tools if t.name.lower() in text), None) if text else None
    if ask.tool_choice == "required":
        return mentioned or ask.tools[0]
    return mentioned


def estimate_tokens(value: Any) -> int:
    """About a token per four characters of the text in messages (content, text, arguments)."""
    return max(1, _text_chars(value) // _CHARS_PER_TOKEN)


def _text_chars(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_text_chars(item) for item in value)
    if isinstance(value, dict):
        return sum(
            _text_chars(value.get(key))
            for key in (
                "content",
                "text",
                "arguments",
                "function",
                "tool_calls",
                "input",
                "thinking",
            )
            if key in value
        )
    return 0


def _json_reply(ask: Ask) -> str:
    if ask.json_schema is not None:
        return orjson.dumps(placeholder_object(ask.json_schema)).decode()
    reply = f"emulated reply from {ask.model} via Junction's emulator"
    return orjson.dumps({"emulated": True, "model": ask.model, "reply": reply}).decode()


def _slices(text: str) -> tuple[str, ...]:
    return tuple(text[i : i + _CHARS_PER_TOKEN] for i in range(0, len(text), _CHARS_PER_TOKEN))


@lru_cache(maxsize=256)
def _content_tokens(model: str, count: int) -> tuple[str, ...]:
    # Cached: the same model and length recur on every request of a benchmark.
    words = f"[emulated reply from {model} via Junction's emulator]".split()
    return _tokens(words, count)


@lru_cache(maxsize=64)
def _reasoning_tokens(model: str, count: int) -> tuple[str, ...]:
    words = f"[emulated reasoning of {model}] Let me think about this.".split()
    return _tokens(words, count)


def _tokens(opening: list[str], count: int) -> tuple[str, ...]:
    words = opening[:count]
    words += [_FILLER[i % len(_FILLER)] for i in range(count - len(words))]
    return tuple(word if i == 0 else f" {word}" for i, word in enumerate(words))
