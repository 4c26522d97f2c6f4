"""A lean HTTP/1.1 transport for httpx: keep-alive pools with O(1) checkout.

httpcore's pool scans every pooled connection on every request and every release; at 64
concurrent upstream calls that scan dominated the gateway's CPU. Upstreams here are vLLM and
OpenAI-compatible servers on a private network, so this transport speaks plain HTTP/1.1 (and
HTTPS through asyncio's TLS) with a stack of idle connections per origin, and hands httpx a
byte stream. Everything above it (requests, responses, timeouts as exceptions) is httpx's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx

_MAX_HEAD = 64 * 1024


class _Connection:
    __slots__ = ("idle_since", "live", "origin", "reader", "writer")

    def __init__(
        self, origin: tuple[str, str, int], reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter, live: set[_Connection],
    ) -> None:
        self.origin = origin
        self.reader = reader
        self.writer = writer
        self.live = live
        self.idle_since = 0.0
        live.add(self)

    @property
    def usable(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        self.live.discard(self)
        self.writer.close()


class PooledTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 with per-origin idle stacks; most recently used connection first."""

    def __init__(
        self,
        max_idle_per_origin: int = 512,
        ssl_context: ssl.SSLContext | None = None,
        keep_alive_expiry_s: float = 30.0,
    ) -> None:
        # Each stack is ordered by the time its connections went idle, oldest first.
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        # Every open connection, idle or in use, so that closing the transport closes all.
        self._live: set[_Connection] = set()
        self._max_idle = max_idle_per_origin
        self._ssl = ssl_context
        self._expiry = keep_alive_expiry_s
        self._sweep: asyncio.TimerHandle | None = None
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        url = request.url
        scheme = url.scheme
        port = url.port or (443 if scheme == "https" else 80)
        origin = (scheme, url.host, port)
        head = _request_head(request, url)
        body = request.content if isinstance(request.stream, httpx.ByteStream) else None
        if body is None:
            body = b"".join([part async for part in request.stream])  # type: ignore[union-attr]
        payload = head + body
        # A pooled connection may have been closed by the server while idle; that shows up as
        # an immediate EOF, and then (only then) the request is sent again on a fresh one.
        for attempt in (0, 1):
            conn = self._checkout(origin) if attempt == 0 else None
            reused = conn is not None
            if conn is None:
                conn = await self._connect(origin, timeouts.get("connect"))
            try:
                conn.writer.write(payload)
                status, headers, keep_alive = await _read_head(conn, timeouts.get("read"))
            except _StaleConnection:
                conn.close()
                if reused:
                    continue
                raise httpx.RemoteProtocolError("server closed the connection without "
                                                "answering", request=request) from None
            except BaseException:
                conn.close()
                raise
            stream = _BodyStream(self, conn, headers, keep_alive, timeouts.get("read"),
                                 request.method == "HEAD" or status in (204, 304))
            return httpx.Response(status, headers=headers, stream=stream,
                                  extensions={"http_version": b"HTTP/1.1"})
        raise httpx.RemoteProtocolError("no connection could be used", request=request)

    def _checkout(self, origin: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if conn.usable:
                return conn
            conn.close()
        return None

    def checkin(self, conn: _Connection) -> None:
        idle = self._idle.setdefault(conn.origin, [])
        if self._closed or len(idle) >= self._max_idle or not conn.usable:
            conn.close()
            return
        loop = asyncio.get_running_loop()
        conn.idle_since = loop.time()
        idle.append(conn)
        if self._sweep is None:
            self._sweep = loop.call_later(self._expiry, self._close_expired)

    @property
    def idle_connections(self) -> int:
        return sum(len(idle) for idle in self._idle.values())

    def _close_expired(self) -> None:
        """Close connections idle longer than the expiry: upstreams and proxies drop them
        silently anyway, and each holds a socket on both ends."""
        self._sweep = None
        loop = asyncio.get_running_loop()
        cutoff = loop.time() - self._expiry
        oldest_left: float | None = None
        for idle in self._idle.values():
            expired = 0
            while expired < len(idle) and idle[expired].idle_since <= cutoff:
                idle[expired].close()
                expired += 1
            del idle[:expired]
            if idle and (oldest_left is None or idle[0].idle_since < oldest_left):
                oldest_left = idle[0].idle_since
        if oldest_left is not None and not self._closed:
            delay = max(oldest_left + self._expiry - loop.time(), 0.0)
            self._sweep = loop.call_later(delay, self._close_expired)

    async def _connect(self, origin: tuple[str, str, int], limit_s: float | None) -> _Connection:
        scheme, host, port = origin
        context: ssl.SSLContext | None = None
        if scheme == "https":
            context = self._ssl or ssl.create_default_context()
        try:
            async with asyncio.timeout(limit_s):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=context, limit=_MAX_HEAD
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        return _Connection(origin, reader, writer, self._live)

    async def aclose(self) -> None:
        self._closed = True
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        conns = list(self._live)
        self._idle.clear()
        for conn in conns:
            conn.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                await conn.writer.wait_closed()


class _StaleConnection(Exception):
    pass


def _request_head(request: httpx.Request, url: httpx.URL) -> bytes:
    target = url.raw_path.decode("ascii")
    lines = [f"{request.method} {target} HTTP/1.1"]
    has_host = False
    for name, value in request.headers.raw:
        lower = name.lower()
        if lower == b"host":
            has_host = True
        elif lower == b"transfer-encoding":
            continue  # the body is always sent whole, with a content-length
        lines.append(f"{name.decode('latin-1')}: {value.decode('latin-1')}")
    if not has_host:
        lines.insert(1, f"Host: {url.netloc.decode('ascii')}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_head(
    conn: _Connection, limit_s: float | None
) -> tuple[int, list[tuple[bytes, bytes]], bool]:
    try:
        async with asyncio.timeout(limit_s):
            raw = await conn.reader.readuntil(b"\r\n\r\n")
    except TimeoutError as exc:
        raise httpx.ReadTimeout("no response within the read timeout") from exc
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise _StaleConnection() from exc
        raise httpx.RemoteProtocolError("connection closed in the middle of the headers") \
            from exc
    except asyncio.LimitOverrunError as exc:
        raise httpx.RemoteProtocolError("response headers are too large") from exc
    except OSError as exc:
        if isinstance(exc, ConnectionResetError):
            raise _StaleConnection() from exc
        raise httpx.ReadError(str(exc)) from exc
    lines = raw[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise httpx.RemoteProtocolError(f"malformed status line {lines[0][:80]!r}")
    status = int(parts[1])
    headers: list[tuple[bytes, bytes]] = []
    keep_alive = parts[0] == b"HTTP/1.1"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        value = value.strip()
        headers.append((name, value))
        if name.lower() == b"connection":
            lowered = value.lower()
            keep_alive = (b"close" not in lowered) and (keep_alive or b"keep-alive" in lowered)
    return status, headers, keep_alive


class _BodyStream(httpx.AsyncByteStream):
    """The response body: by Content-Length, chunked, or until the server closes."""

    def __init__(
        self,
        pool: PooledTransport,
        conn: _Connection,
        headers: list[tuple[bytes, bytes]],
        keep_alive: bool,
        timeout: float | None,
        empty: bool,
    ) -> None:
        self._pool = pool
        self._conn: _Connection | None = conn
        self._timeout = timeout
        self._length: int | None = None
        self._chunked = False
        for name, value in headers:
            lower = name.lower()
            if lower == b"content-length":
                self._length = int(value)
            elif lower == b"transfer-encoding" and b"chunked" in value.lower():
                self._chunked = True
        if empty:
            self._length = 0
        self._reusable = keep_alive and (self._chunked or self._length is not None)
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        reader = conn.reader
        try:
            if self._chunked:
                async for piece in self._chunks(reader):
                    yield piece
            elif self._length is not None:
                left = self._length
                while left > 0:
                    data = await self._read(reader.read(min(left, 65536)))
                    if not data:
                        raise httpx.RemoteProtocolError("connection closed before the body ended")
                    left -= len(data)
                    yield data
            else:
                while True:
                    data = await self._read(reader.read(65536))
                    if not data:
                        break
                    yield data
            self._done = True
        except OSError as exc:
            raise httpx.ReadError(str(exc)) from exc

    async def _chunks(self, reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
        while True:
            line = await self._read(reader.readuntil(b"\r\n"))
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while (await self._read(reader.readuntil(b"\r\n"))) != b"\r\n":
                    pass  # trailers
                return
            data = await self._read(reader.readexactly(size + 2))
            yield data[:-2]

    async def _read(self, awaitable: Any) -> Any:
        try:
            async with asyncio.timeout(self._timeout):
                return await awaitable
        except TimeoutError as exc:
            raise httpx.ReadTimeout("the upstream stalled mid-response") from exc
        except asyncio.IncompleteReadError as exc:
            raise httpx.RemoteProtocolError("connection closed before the body ended") from exc
        except asyncio.LimitOverrunError as exc:
            raise httpx.RemoteProtocolError("malformed chunked body") from exc

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._done and self._reusable:
            self._pool.checkin(conn)
        else:
            conn.close()
