"""`POST /v1/responses`: the OpenAI Responses door, served through the chat path."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from router.api.deps import chat_service, read_body, settings
from router.api.openai import until_disconnect
from router.doors.responses import translate_request
from router.doors.responses_answer import translate_completion
from router.doors.responses_stream import translate_stream
from router.errors import JunctionError, NotFound
from router.gateway.plan import parse_json

router = APIRouter(tags=["openai"])


@router.post("/v1/responses", summary="Create a response (stateless; routed by policy)")
async def create_response(request: Request) -> Response:
    raw = await read_body(request, settings(request).max_body_bytes)
    translated = translate_request(parse_json(raw))
    reply = await until_disconnect(request, chat_service(request).complete(
        orjson.dumps(translated.chat), dict(request.headers)))
    request_id = reply.headers.get("x-junction-request-id", "")
    if reply.stream is not None:
        return StreamingResponse(
            translate_stream(reply.stream, translated.request, request_id),
            status_code=reply.status, headers=reply.headers, media_type="text/event-stream",
        )
    body = reply.body or b""
    if reply.status == 200:
        try:
            body = translate_completion(body, translated.request, request_id)
        except JunctionError as exc:
            exc.headers = {**reply.headers, **exc.headers}
            raise
    return Response(body, status_code=reply.status, headers=reply.headers,
                    media_type="application/json")


@router.get("/v1/responses/{response_id}", summary="Not kept: this gateway stores no responses")
@router.delete("/v1/responses/{response_id}", summary="Not kept: nothing to delete")
@router.get("/v1/responses/{response_id}/input_items", summary="Not kept: no input items")
async def stored_response(request: Request, response_id: str) -> Response:
    await chat_service(request).authenticate(dict(request.headers))
    raise NotFound(
        f"response {response_id!r} was not kept: this gateway is stateless and stores no "
        "responses (every answer says store: false); keep what you need from the answer",
        param="response_id", code="response_not_found")
