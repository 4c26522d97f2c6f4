"""The ASGI app every emulator is: exact-path routing, one error shape, graceful release."""

from __future__ import annotations

import asyncio
import logging

from junction_emulate.asgi import (
    ClientGone,
    ConnectionCut,
    Handler,
    Receive,
    Request,
    Scope,
    Send,
    ServerClosing,
    settle,
)
from junction_emulate.errors import EmulatedError, ErrorBody
from junction_emulate.state import EmulatorState

_log = logging.getLogger(__name__)


class EmulatorApp:
    """An ASGI app routing exact (method, path) pairs to handlers, errors in one shape."""

    def __init__(
        self, routes: dict[tuple[str, str], Handler], error_body: ErrorBody, state: EmulatorState
    ) -> None:
        self._routes = routes
        self._paths = {path for _, path in routes}
        self._error_body = error_body
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: asyncio.Future[None] | None = None
        #: The emulator's live state (behaviour, queue, recorded requests) for in-process tests.
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    def release_waiting(self) -> None:
        """Before stopping: answer every request still waiting, now and from then on (thread-safe).

        Servers wait for open requests before they stop, so a runner calls this first: a
        hung, stalled or queued request gets a 503, a stream still pacing is cut.
        """
        loop, closing = self._loop, self._closing
        if loop is not None and closing is not None and not loop.is_closed():
            loop.call_soon_threadsafe(settle, closing)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            request = await Request.read(scope, receive, send, self._closing)
        except ClientGone:
            return
        try:
            handler = self._routes.get((request.method, request.path))
            if handler is None:
                raise _no_route(request, request.path in self._paths)
            await handler(request)
        except EmulatedError as error:
            if request.started:
                raise
            await self._answer(request, error)
        except ClientGone:
            pass
        except ServerClosing:
            if request.started:
                raise ConnectionCut from None
            await self._answer(request, EmulatedError(503, "The emulator is shutting down."))
        except ConnectionCut:
            raise
        except Exception:
            # A bug in the emulator still answers in the provider's error shape.
            _log.exception("emulator handler failed on %s %s", request.method, request.path)
            if request.started:
                raise ConnectionCut from None
            await self._answer(request, EmulatedError(500, "The emulator failed; see its log."))
        finally:
            request.close()

    async def _answer(self, request: Request, error: EmulatedError) -> None:
        await request.respond_json(error.status, self._error_body(error))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._loop = asyncio.get_running_loop()
                self._closing = self._loop.create_future()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


def _no_route(request: Request, path_known: bool) -> EmulatedError:
    if path_known:
        return EmulatedError(405, f"Method {request.method} is not allowed on {request.path}.")
    return EmulatedError(404, f"No route {request.method} {request.path} on this emulator.")
