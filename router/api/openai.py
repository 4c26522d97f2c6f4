"""The OpenAI-compatible endpoints: chat completions, models, and route explain.

Handlers read `app.state` directly rather than through `Depends`: on the hot path FastAPI's
dependency resolution costs more than the rest of the handler.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from router.api.deps import chat_service, read_body, settings
from router.api.responses import json_response
from router.doors import as_chat_body
from router.doors.embeddings import DOOR as EMBEDDINGS
from router.errors import NotFound
from router.gateway.finish import Reply
from router.policy.schema import Policy

router = APIRouter(tags=["openai"])


@router.post("/v1/chat/completions", summary="Create a chat completion (routed by policy)")
async def chat_completions(request: Request) -> Response:
    raw = await read_body(request, settings(request).max_body_bytes)
    reply = await until_disconnect(request, chat_service(request).complete(raw,
                                                                          dict(request.headers)))
    if reply.stream is not None:
        return StreamingResponse(
            reply.stream, status_code=reply.status, headers=reply.headers,
            media_type="text/event-stream",
        )
    return Response(
        reply.body, status_code=reply.status, headers=reply.headers,
        media_type="application/json",
    )


async def until_disconnect(request: Request, work: Coroutine[Any, Any, Reply]) -> Reply:
    """Run `work`, cancelling it (and so the upstream call) if the client goes away first.

    Once a stream is handed back, StreamingResponse watches for disconnects itself.
    """
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise ClientDisconnected()
    return task.result()


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


class ClientDisconnected(Exception):
    """The caller closed the connection before the answer was ready; nobody reads a reply."""


@router.post("/v1/route/explain", summary="Explain how a request would be routed, calling nothing")
async def route_explain(request: Request) -> Response:
    """The body may be any door's request shape: `?shape=` names it, or it is detected."""
    raw = await read_body(request, settings(request).max_body_bytes)
    shape, chat_raw = as_chat_body(raw, request.query_params.get("shape"))
    if shape == EMBEDDINGS:
        # Decided among the embedding routes, exactly as the embeddings door would serve it.
        result = await request.app.state.embeddings.explain(raw, dict(request.headers))
    else:
        result = await chat_service(request).explain_request(chat_raw, dict(request.headers))
    result["shape"] = shape
    return json_response(result)


@router.get("/v1/models", summary="List the policy's models and routes")
async def list_models(request: Request) -> Response:
    service = chat_service(request)
    await service.authenticate(dict(request.headers))
    return json_response({"object": "list", "data": model_objects(service.engine.policy)})


@router.get("/v1/models/{model_id:path}", summary="One model, route or 'auto' (models.retrieve)")
async def retrieve_model(request: Request, model_id: str) -> Response:
    service = chat_service(request)
    await service.authenticate(dict(request.headers))
    objects = model_objects(service.engine.policy)
    for obj in objects:
        if obj["id"] == model_id:
            return json_response(obj)
    raise NotFound(
        f"model {model_id!r} is not 'auto', a route or a model of this gateway's policy; "
        f"choose one of: {', '.join(sorted(str(o['id']) for o in objects))}",
        param="model", code="model_not_found",
    )


def model_objects(policy: Policy) -> list[dict[str, object]]:
    """OpenAI model objects for `auto`, every route and every model, as /v1/models lists them."""
    data: list[dict[str, object]] = [
        {"id": "auto", "object": "model", "created": 0, "owned_by": "junction",
         "junction": {"kind": "auto", "description": "the policy chooses"}},
    ]
    for route in policy.routes:
        data.append({
            "id": route.name, "object": "model", "created": 0, "owned_by": "junction",
            "junction": {"kind": "route", "model_kind": policy.route_kind(route),
                         "description": route.description,
                         "candidates": route.candidates, "objective": route.objective,
                         "fail_closed": route.on_unavailable == "reject"},
        })
    for name, spec in policy.models.items():
        data.append({
            "id": name, "object": "model", "created": 0, "owned_by": spec.backend,
            "junction": {"kind": "model", "model_kind": spec.kind,
                         **({"dimensions": spec.dimensions} if spec.dimensions else {}),
                         "residency": spec.effective_residency,
                         "backend": spec.backend,
                         "capabilities": [c.value for c in spec.capabilities],
                         "context_window": spec.context_window},
        })
    return data
