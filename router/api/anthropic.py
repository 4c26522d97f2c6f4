"""The Anthropic Messages door: `POST /v1/messages` and `POST /v1/messages/count_tokens`.

Thin: the body is translated (`router.doors.anthropic`) and served by the same `ChatService`
as `/v1/chat/completions`; the answer is translated back unless a `backend: anthropic` model
gave it (passthrough). Every error, the gateway's or an upstream's, leaves in Anthropic's
shape, with the status from the one mapping (`as_junction_error`) in Anthropic's terms.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from router.api.deps import chat_service, read_body, settings
from router.api.openai import ClientDisconnected, until_disconnect
from router.api.responses import as_junction_error, json_response
from router.doors.anthropic import (
    anthropic_error,
    anthropic_status,
    chat_to_message,
    error_from_openai,
    messages_to_chat,
)
from router.doors.anthropic_stream import ChatToMessagesStream
from router.errors import InternalError, InvalidRequest
from router.gateway.plan import new_request_id, parse_json
from router.providers.base import NativeBody

log = logging.getLogger("junction")
router = APIRouter(tags=["anthropic"])
_FORWARDED = ("anthropic-version", "anthropic-beta")


def door_headers(request: Request) -> dict[str, str]:
    """The request's headers, with Anthropic's `x-api-key` as the bearer key when no
    `Authorization` is sent (Anthropic's SDK and Claude Code send `x-api-key`)."""
    headers = dict(request.headers)
    key = headers.get("x-api-key")
    if key and "authorization" not in headers:
        headers["authorization"] = "Bearer " + key
    return headers


def error_reply(exc: Exception, request: Request) -> Response:
    """Any exception as Anthropic's error body, with the status and headers it maps to."""
    error = as_junction_error(exc, request.method, request.url.path)
    request_id = error.headers.get("x-junction-request-id") or new_request_id()
    if isinstance(error, InternalError) and error is not exc:
        log.error("unexpected error on %s %s (request %s)", request.method, request.url.path,
                  request_id, exc_info=exc)
    status = anthropic_status(error.status_code)
    headers = {**error.headers, "x-junction-request-id": request_id, "x-request-id": request_id}
    body = anthropic_error(status, error.message, request_id, error.code)
    return json_response(body, status, headers)


async def _messages_body(request: Request) -> dict[str, Any]:
    raw = await read_body(request, settings(request).max_body_bytes)
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise InvalidRequest(f"the request body must be a JSON object, got "
                             f"{type(body).__name__}")
    return body


@router.post("/v1/messages", summary="Create a message (Anthropic Messages, routed by policy)")
async def messages(request: Request) -> Response:
    try:
        body = await _messages_body(request)
        chat = messages_to_chat(body)
        headers = door_headers(request)
        native = NativeBody("anthropic", body,
                            {k: headers[k] for k in _FORWARDED if k in headers})
        reply = await until_disconnect(request, chat_service(request).complete(
            orjson.dumps(chat), headers, native=native))
    except ClientDisconnected:
        raise
    except Exception as exc:
        return error_reply(exc, request)
    stops = chat.get("stop")
    if reply.status >= 400:
        request_id = reply.headers.get("x-junction-request-id")
        return Response(error_from_openai(reply.status, reply.body or b"", request_id),
                        status_code=anthropic_status(reply.status), headers=reply.headers,
                        media_type="application/json")
    if reply.stream is not None:
        stream = reply.stream
        if not native.answered:
            # message_start's input_tokens is 0; message_delta carries the counted one.
            translator = ChatToMessagesStream(0, stops,
                                              settings(request).limits.max_response_bytes)
            stream = translator.translate(reply.stream)
        return StreamingResponse(stream, status_code=reply.status, headers=reply.headers,
                                 media_type="text/event-stream")
    content = reply.body or b""
    if not native.answered:
        content = orjson.dumps(chat_to_message(orjson.loads(content), stops))
    return Response(content, status_code=reply.status, headers=reply.headers,
                    media_type="application/json")


@router.post("/v1/messages/count_tokens",
             summary="Count a Messages request's input tokens (Junction's estimate)")
async def count_tokens(request: Request) -> Response:
    try:
        body = await _messages_body(request)
        body.setdefault("max_tokens", 1)  # count_tokens takes no max_tokens
        chat = messages_to_chat(body)
        service = chat_service(request)
        await service.authenticate(door_headers(request))
        tokens = service.planner.classifier.classify(chat).prompt_tokens
    except Exception as exc:
        return error_reply(exc, request)
    return json_response({"input_tokens": tokens})
