"""Proprietary APIs (Anthropic, Gemini, OpenAI, ...) through `litellm.acompletion`.

litellm is imported when the provider is built (only for policies that name a litellm model),
in a thread: it takes seconds and ~150 MB, and the gateway need not wait for it to listen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from router.errors import openai_error
from router.providers.base import (
    AttemptFailed,
    CallTarget,
    Completion,
    StreamEnd,
    Usage,
    add_trace_context,
    retryable_status,
)
from router.providers.embedding_shape import Embedded, EmbeddingAsk, checked_embeddings
from router.providers.openai_shape import chunk_shape, completion_shape
from router.providers.sse import DONE, encode_event, error_event
from router.settings import TimeoutSettings

# Junction owns these; everything else in the body goes to litellm unchanged.
_OWN_FIELDS = frozenset({"model", "messages", "stream", "stream_options"})
_LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")


def quiet_litellm_logging(level: int = logging.WARNING) -> None:
    """litellm gives its loggers their own coloured stderr handlers and still propagates, so
    each request's INFO line appears twice beside Junction's access line. Route its records
    through Junction's logging once, at `level` and above."""
    for name in _LITELLM_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = True


class LiteLLMProvider:
    """Calls litellm; the import (seconds of CPU) runs in a thread started here, so the gateway
    starts listening meanwhile and only a litellm model's first request can wait for it."""

    def __init__(self, timeouts: TimeoutSettings) -> None:
        self.timeouts = timeouts
        self._module: Any = None
        self._import_error: BaseException | None = None
        self._loader = threading.Thread(target=self._load, name="litellm-import", daemon=True)
        self._loader.start()

    def _load(self) -> None:
        # The one place Junction configures litellm. Its price map ships in the package: read
        # that copy rather than fetch one from the internet at import (set before importing).
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        try:
            import litellm
        except BaseException as exc:  # surfaced to the first caller, not lost in a thread
            self._import_error = exc
            return
        litellm.telemetry = False
        litellm.suppress_debug_info = True
        # litellm's aiohttp transport caches sessions bound to the first event loop it saw;
        # plain httpx clients close cleanly with ours.
        litellm.disable_aiohttp_transport = True
        quiet_litellm_logging(
            logging.DEBUG if logging.getLogger("junction").isEnabledFor(logging.DEBUG)
            else logging.WARNING)
        self._module = litellm

    @property
    def loading(self) -> bool:
        """True while litellm is still being imported: seconds of CPU holding the GIL, which
        slow every request the process serves meanwhile (readiness waits for it)."""
        return self._loader.is_alive()

    async def _litellm_module(self) -> Any:
        if self._module is None and self._import_error is None:
            await asyncio.to_thread(self._loader.join)
        if self._import_error is not None:
            raise AttemptFailed("error", f"litellm could not be imported: "
                                f"{self._import_error!r}", retryable=False)
        return self._module

    async def aclose(self) -> None:
        await asyncio.to_thread(self._loader.join)
        if self._module is None:
            return
        from litellm.llms.custom_httpx.async_client_cleanup import close_litellm_async_clients

        await close_litellm_async_clients()  # type: ignore[no-untyped-call]
        self._module.in_memory_llm_clients_cache.flush_cache()
        # A module-level client, if litellm made one, is bound to this event loop too.
        shared = vars(self._module).get("module_level_aclient")
        if shared is not None:
            with contextlib.suppress(Exception):
                await shared.close()

    def _kwargs(self, target: CallTarget, body: dict[str, Any]) -> dict[str, Any]:
        kwargs = {k: v for k, v in body.items() if k not in _OWN_FIELDS}
        kwargs["model"] = target.spec.model
        kwargs["messages"] = body["messages"]
        kwargs["timeout"] = target.timeout_s
        kwargs["num_retries"] = 0  # Junction's executor decides about retries and fallbacks
        if target.endpoint:
            kwargs["api_base"] = target.endpoint
        if target.api_key is not None:
            kwargs["api_key"] = target.api_key.get_secret_value()
        traced: dict[str, str] = {}
        add_trace_context(traced)
        if traced:
            # litellm passes extra_headers on to the provider's HTTP request.
            given = kwargs.get("extra_headers")
            kwargs["extra_headers"] = {**(given if isinstance(given, dict) else {}), **traced}
        return kwargs

    async def complete(self, target: CallTarget, body: dict[str, Any]) -> Completion:
        start = time.perf_counter()
        try:
            litellm = await self._litellm_module()
            response = await litellm.acompletion(**self._kwargs(target, body))
        except Exception as exc:
            raise _attempt_failed(exc) from exc
        elapsed = (time.perf_counter() - start) * 1000.0
        data = completion_shape(response.model_dump(exclude_none=True))
        usage = Usage()
        if isinstance(data.get("usage"), dict):
            usage.update_from(data["usage"])
        return Completion(body=orjson.dumps(data), usage=usage, upstream_ms=elapsed)

    async def embed(self, target: CallTarget, body: dict[str, Any],
                    ask: EmbeddingAsk) -> Embedded:
        """`litellm.aembedding`; the answer is checked against `ask` like an HTTP one."""
        # litellm's response models hold floats: ask for them, and encode base64 here.
        kwargs = {k: v for k, v in body.items() if k not in ("model", "encoding_format")}
        kwargs["model"] = target.spec.model
        kwargs["timeout"] = target.timeout_s
        kwargs["num_retries"] = 0
        if target.endpoint:
            kwargs["api_base"] = target.endpoint
        if target.api_key is not None:
            kwargs["api_key"] = target.api_key.get_secret_value()
        start = time.perf_counter()
        try:
            litellm = await self._litellm_module()
            async with asyncio.timeout_at(target.deadline):
                response = await litellm.aembedding(**kwargs)
        except TimeoutError as exc:
            raise AttemptFailed("deadline", "no embeddings within the attempt deadline of "
                                f"{target.total_s:g}s", retryable=True) from exc
        except AttemptFailed:
            raise
        except Exception as exc:
            raise _attempt_failed(exc) from exc
        elapsed = (time.perf_counter() - start) * 1000.0
        return checked_embeddings(response.model_dump(), ask, target.spec.model, elapsed)

    async def open_stream(
        self, target: CallTarget, body: dict[str, Any], want_usage: bool
    ) -> LiteLLMStream:
        start = time.perf_counter()
        kwargs = self._kwargs(target, body)
        kwargs["stream"] = True
        kwargs["stream_options"] = {"include_usage": True}
        litellm = await self._litellm_module()  # the import is not the upstream's first byte
        try:
            async with asyncio.timeout(self.timeouts.first_byte_s):
                wrapper = await litellm.acompletion(**kwargs)
                stream = LiteLLMStream(wrapper, want_usage)
                await stream.read_first()
        except TimeoutError as exc:
            raise AttemptFailed("timeout", "no first chunk within "
                                f"{self.timeouts.first_byte_s:g}s", retryable=True) from exc
        except AttemptFailed:
            raise
        except Exception as exc:
            raise _attempt_failed(exc) from exc
        stream.first_byte_ms = (time.perf_counter() - start) * 1000.0
        return stream


class LiteLLMStream:
    """Re-encodes litellm's chunk objects as OpenAI SSE events."""

    def __init__(self, wrapper: Any, want_usage: bool) -> None:
        self._wrapper = wrapper
        self._iter = wrapper.__aiter__()
        self._want_usage = want_usage
        self._first: bytes | None = None
        self.first_byte_ms = 0.0
        self.end = StreamEnd()

    async def read_first(self) -> None:
        while self._first is None:
            try:
                chunk = await anext(self._iter)
            except StopAsyncIteration as exc:
                raise AttemptFailed("empty_stream", "upstream closed the stream before any "
                                    "chunk", retryable=True) from exc
            self._first = self._encode(chunk)

    def _encode(self, chunk: Any) -> bytes | None:
        data = chunk_shape(chunk.model_dump(exclude_none=True))
        self.end.chunks += 1
        if not self.end.response:
            self.end.note_response(data)
        for choice in data.get("choices") or ():
            if isinstance(choice, dict) and isinstance(choice.get("finish_reason"), str):
                self.end.note_finish(choice["finish_reason"])
        usage = data.get("usage")
        if isinstance(usage, dict) and usage:
            self.end.usage.update_from(usage)
            if not data.get("choices"):
                return encode_event(data) if self._want_usage else None
            if not self._want_usage:
                data.pop("usage", None)
        return encode_event(data)

    async def events(self) -> AsyncIterator[bytes]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        try:
            async for chunk in self._iter:
                event = self._encode(chunk)
                if event is not None:
                    yield event
        except Exception as exc:
            self.end.error = f"upstream stream broke: {type(exc).__name__}: {str(exc)[:300]}"
            yield error_event(self.end.error)
            return
        self.end.completed = True
        yield DONE

    async def aclose(self) -> None:
        close = getattr(self._iter, "aclose", None)
        if close is not None:
            # Closing a half-read stream must not mask the real outcome.
            with contextlib.suppress(Exception):
                await close()


def _attempt_failed(exc: Exception) -> AttemptFailed:
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    message = f"{name}: {str(exc)[:300]}"
    if name in ("Timeout", "APITimeoutError") or isinstance(exc, TimeoutError):
        return AttemptFailed("timeout", message, retryable=True)
    if name in ("APIConnectionError", "ServiceUnavailableError", "InternalServerError"):
        return AttemptFailed(str(status or "connect_error"), message, retryable=True,
                             status=status)
    if isinstance(status, int):
        body = orjson.dumps(openai_error(message, "upstream_error", name))
        return AttemptFailed(str(status), message, retryable=retryable_status(status),
                             status=status, body=body)
    return AttemptFailed("error", message, retryable=True)
