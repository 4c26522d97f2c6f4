"""One-line accessors for objects built in `create_app` and kept on `app.state`."""

from __future__ import annotations

from starlette.requests import Request

from router.errors import PayloadTooLarge
from router.gateway.service import ChatService
from router.settings import Settings


def chat_service(request: Request) -> ChatService:
    service: ChatService = request.app.state.chat
    return service


def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


async def read_body(
    request: Request, limit: int, governed_by: str = "setting JUNCTION_MAX_BODY_BYTES"
) -> bytes:
    """The request body, refused with 413 as soon as it is known to pass `limit` bytes.

    `governed_by` tells the caller what sets the limit, so a 413 never points at a setting that
    does not apply to this endpoint.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit, governed_by)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit, governed_by)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int, governed_by: str) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is {size} bytes or more; this endpoint accepts at most {limit} "
        f"({governed_by})",
    )
