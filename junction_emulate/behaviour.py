"""The knobs that shape an emulated backend: what it serves, how fast, and how it fails."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

DEFAULT_OPENAI_MODELS = ("gpt-4o-mini", "gpt-4o")
DEFAULT_ANTHROPIC_MODELS = ("claude-emulated", "claude-sonnet-4-5")
DEFAULT_VLLM_MODELS = ("Qwen/Qwen3-8B",)


@dataclass(frozen=True, slots=True)
class EmulatorBehaviour:
    """How one emulator behaves; replaced whole on every change so a request sees one snapshot.

    `models` empty (the default here; each factory called without a behaviour serves its
    provider's usual names) means any model name is accepted. Timing: the first token comes
    `ttft` seconds after a request is admitted, then one every 1/`tps` seconds (0 = instant).
    """

    models: tuple[str, ...] = ()
    api_key: str | None = None
    ttft: float = 0.0
    tps: float = 0.0
    completion_tokens: int = 16
    # Bill this many prompt tokens whatever was sent (None: about one per four characters), to
    # play an upstream whose tokenizer counts more than Junction's estimate.
    prompt_tokens: int | None = None
    # Only the vLLM emulator thinks (Qwen3-style), and only unless the request turns it off.
    reasoning_tokens: int = 8
    # 0 = unlimited; beyond it requests wait in FIFO order and count as "waiting".
    max_concurrency: int = 0
    # vLLM emulator: requests reported in /metrics on top of its own, as other traffic on the
    # same GPUs would show; lets a test set the load Junction sees without racing threads.
    extra_running: int = 0
    extra_waiting: int = 0
    error_rate: float = 0.0
    error_status: int = 500
    seed: int = 0
    # The next N requests fail with error_status; counted down as they do.
    fail_next: int = 0
    # Never answer (until the client gives up), or stall this long before answering.
    hang: bool = False
    hang_seconds: float = 0.0
    # Drop the connection mid-stream after this many SSE events (None = never).
    cut_after_chunks: int | None = None
    # /v1/embeddings: the vectors' length when the request sets no `dimensions` (the most it
    # may ask for), and a fault to play an upstream whose 200 is not a valid answer.
    embedding_dimensions: int = 64
    embedding_fault: typing.Literal["none", "count", "dimensions", "nan"] = "none"
    kv_cache_tokens: int = 65_536
    max_model_len: int = 32_768
    record_limit: int = 100

    def __post_init__(self) -> None:
        for name in ("ttft", "tps", "hang_seconds"):
            _require(name, getattr(self, name) >= 0, getattr(self, name), "a number >= 0")
        for name in ("completion_tokens", "reasoning_tokens", "max_concurrency", "fail_next",
                     "extra_running", "extra_waiting"):
            _require(name, getattr(self, name) >= 0, getattr(self, name), "an integer >= 0")
        for name in ("kv_cache_tokens", "max_model_len", "record_limit", "embedding_dimensions"):
            _require(name, getattr(self, name) >= 1, getattr(self, name), "an integer >= 1")
        _require("error_rate", 0.0 <= self.error_rate <= 1.0, self.error_rate, "0..1")
        _require(
            "error_status", 400 <= self.error_status <= 599, self.error_status, "an HTTP 4xx/5xx"
        )
        if self.prompt_tokens is not None:
            _require("prompt_tokens", self.prompt_tokens >= 1, self.prompt_tokens, ">= 1 or null")
        if self.cut_after_chunks is not None:
            _require(
                "cut_after_chunks",
                self.cut_after_chunks >= 0,
                self.cut_after_chunks,
                ">= 0 or null",
            )

    def changed(self, changes: Mapping[str, Any]) -> EmulatorBehaviour:
        """A copy with `changes` (field name -> JSON value) applied and validated.

        Raises ValueError naming the field, the value and what is allowed.
        """
        # Pydantic is fine here: configuration is a boundary, not the per-request hot path.
        from pydantic import ValidationError

        hints = _field_adapters()
        unknown = sorted(set(changes) - set(hints))
        if unknown:
            raise ValueError(f"unknown behaviour field(s) {unknown}; allowed: {sorted(hints)}")
        validated: dict[str, Any] = {}
        for name, value in changes.items():
            try:
                validated[name] = hints[name].validate_python(value)
            except ValidationError as exc:
                reason = exc.errors()[0]["msg"]
                raise ValueError(f"{name}={value!r} is invalid: {reason}") from None
        return dataclasses.replace(self, **validated)

    def as_json(self) -> dict[str, Any]:
        """The behaviour as a JSON-ready mapping, as GET /_emulator/config returns it."""
        return dataclasses.asdict(self)


def _require(name: str, ok: bool, value: object, allowed: str) -> None:
    if not ok:
        raise ValueError(f"{name}={value!r} is out of range; allowed: {allowed}")


@cache
def _field_adapters() -> dict[str, Any]:
    from pydantic import TypeAdapter

    hints = typing.get_type_hints(EmulatorBehaviour)
    return {
        field.name: TypeAdapter(hints[field.name])
        for field in dataclasses.fields(EmulatorBehaviour)
    }
