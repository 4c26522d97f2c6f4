"""The chat-completions and models endpoints, shared by the OpenAI and vLLM emulators."""

from __future__ import annotations

import time
from collections.abc import Callable

from junction_emulate.asgi import EventStream, Request
from junction_emulate.openai_protocol import (
    DONE,
    ChatFlavour,
    ChatRequest,
    ChunkRenderer,
    completion_body,
    models_body,
    parse_chat_request,
    usage_body,
)
from junction_emulate.pacing import NULL_OBSERVER, Pacer, RequestObserver
from junction_emulate.replies import Reply, compose
from junction_emulate.serving import Running, check_bearer, misbehave, read_json_object
from junction_emulate.state import EmulatorState

ObserverFactory = Callable[[int], RequestObserver]


def _no_observer(prompt_tokens: int) -> RequestObserver:
    return NULL_OBSERVER


class ChatCompletions:
    """POST /v1/chat/completions: answers in OpenAI's format, streamed or not.

    `observe(prompt_tokens)` makes an observer per request; the vLLM emulator's feeds /metrics.
    """

    def __init__(
        self, state: EmulatorState, flavour: ChatFlavour, observe: ObserverFactory = _no_observer
    ) -> None:
        self._state = state
        self._flavour = flavour
        self._observe = observe

    async def __call__(self, request: Request) -> None:
        """Handle one request."""
        state = self._state
        body = read_json_object(request, state)
        behaviour = state.behaviour
        check_bearer(request, behaviour)
        chat = parse_chat_request(body, behaviour, self._flavour)
        await misbehave(request, state, behaviour)
        observer = self._observe(chat.ask.prompt_tokens)
        async with Running(request, state, observer):
            prefix = self._flavour.tool_call_prefix
            replies = [compose(chat.ask, behaviour, state.new_id(prefix)) for _ in range(chat.n)]
            pacer = Pacer(request, behaviour.ttft, behaviour.tps)
            completion_id = state.new_id("chatcmpl-")
            if chat.stream:
                cut_after = behaviour.cut_after_chunks
                await self._stream(
                    request, chat, replies, pacer, observer, completion_id, cut_after
                )
            else:
                await self._complete(request, chat, replies, pacer, observer, completion_id)

    async def _complete(
        self,
        request: Request,
        chat: ChatRequest,
        replies: list[Reply],
        pacer: Pacer,
        observer: RequestObserver,
        completion_id: str,
    ) -> None:
        # Choices are generated in lockstep, one token each per step, as in a batch.
        steps = replies[0].completion_tokens
        if not pacer.instant and steps == 0:
            await pacer.step(0)
        for index in range(steps):
            if not pacer.instant:
                await pacer.step(index)
            observer.emitted(len(replies))
        observer.finished(replies[0].finish)
        body = completion_body(
            completion_id=completion_id,
            created=int(time.time()),
            ask=chat.ask,
            replies=replies,
            flavour=self._flavour,
        )
        await request.respond_json(200, body)

    async def _stream(
        self,
        request: Request,
        chat: ChatRequest,
        replies: list[Reply],
        pacer: Pacer,
        observer: RequestObserver,
        completion_id: str,
        cut_after: int | None,
    ) -> None:
        stream = EventStream(request, cut_after)
        await stream.open()
        render = ChunkRenderer(
            completion_id=completion_id,
            created=int(time.time()),
            model=chat.ask.model,
            flavour=self._flavour,
            include_usage=chat.include_usage,
        )
        all_steps = [reply.steps for reply in replies]
        steps = all_steps[0]
        if not steps:
            if not pacer.instant:
                await pacer.step(0, stream.flush)
            for choice, reply in enumerate(replies):
                stream.add(render.opening(choice, reply))
        for index, (kind, _) in enumerate(steps):
            if not pacer.instant:
                await pacer.step(index, stream.flush)
            opens_tool = kind == "tool" and (index == 0 or steps[index - 1][0] != "tool")
            for choice, reply in enumerate(replies):
                if index == 0:
                    stream.add(render.opening(choice, reply))
                text = all_steps[choice][index][1]
                if opens_tool:
                    stream.add(render.tool_call_start(choice, reply, text))
                else:
                    stream.add(render.token(choice, kind, text))
            observer.emitted(len(replies))
        for choice, reply in enumerate(replies):
            stream.add(render.closing(choice, reply))
        observer.finished(replies[0].finish)
        if chat.include_usage:
            stream.add(render.usage(usage_body(chat.ask.prompt_tokens, replies, self._flavour)))
        stream.add(DONE)
        await stream.close()


class ModelList:
    """GET /v1/models."""

    def __init__(self, state: EmulatorState, flavour: ChatFlavour) -> None:
        self._state = state
        self._flavour = flavour
        self._created = int(time.time())

    async def __call__(self, request: Request) -> None:
        """List the served models."""
        behaviour = self._state.behaviour
        check_bearer(request, behaviour)
        await request.respond_json(200, models_body(behaviour, self._flavour, self._created))
