"""One-line accessors for objects built in `create_app` and kept on `app.state`."""

from __future__ import annotations

from starlette.requests import Request

from router.errors import PayloadTooLarge
from router.serving import ChatService
from router.settings import Settings


def chat_service(request: Request) -> ChatService:
    service: ChatService = request.app.state.chat
    return service


def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to pass `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is {size} bytes or more; this gateway accepts at most {limit} "
        "(setting JUNCTION_MAX_BODY_BYTES)",
    )
