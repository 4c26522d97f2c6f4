"""`POST /v1/embeddings` (OpenAI's embeddings API), routed by policy like chat."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from router.api.deps import read_body, settings
from router.api.openai import until_disconnect
from router.doors.embeddings import EmbeddingsDoor

router = APIRouter(tags=["openai"])


def embeddings_door(request: Request) -> EmbeddingsDoor:
    door: EmbeddingsDoor = request.app.state.embeddings
    return door


@router.post("/v1/embeddings", summary="Create embeddings (routed by policy)")
async def create_embeddings(request: Request) -> Response:
    raw = await read_body(request, settings(request).max_body_bytes)
    reply = await until_disconnect(request, embeddings_door(request).embed(
        raw, dict(request.headers)))
    return Response(reply.body, status_code=reply.status, headers=reply.headers,
                    media_type="application/json")
