"""The pooled HTTP/1.1 transport against a raw asyncio server that writes exact bytes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from router.providers.transport import PooledTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def serve(handler: Handler) -> tuple[asyncio.AbstractServer, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + await reader.readexactly(length)


def run(coro: Awaitable[None]) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_content_length_keep_alive_reuses_one_connection() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            while True:
                request = await read_request(reader)
                body = b'{"echo": %d}' % len(request)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except asyncio.IncompleteReadError:
            writer.close()

    async def main() -> None:
        server, url = await serve(handler)
        async with httpx.AsyncClient(transport=PooledTransport()) as client:
            for _ in range(5):
                r = await client.post(url + "/v1/x", content=b'{"a": 1}')
                assert r.status_code == 200 and "echo" in r.json()
        server.close()
        await server.wait_closed()
        assert connections == 1

    run(main())


def test_chunked_stream_arrives_piece_by_piece() -> None:
    release = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        writer.write(b"6\r\ndata 1\r\n")
        await writer.drain()
        await release.wait()
        writer.write(b"6\r\ndata 2\r\n0\r\n\r\n")
        await writer.drain()
        await reader.read()  # until the client closes
        writer.close()

    async def main() -> None:
        server, url = await serve(handler)
        async with (
            httpx.AsyncClient(transport=PooledTransport()) as client,
            client.stream("POST", url, content=b"{}") as r,
        ):
            pieces = r.aiter_raw()
            assert await anext(pieces) == b"data 1"  # before the server sends the rest
            release.set()
            assert [p async for p in pieces] == [b"data 2"]
        await asyncio.sleep(0.05)  # let the handler see the close and close its side
        server.close()
        await server.wait_closed()

    run(main())


def test_stale_pooled_connection_is_retried_once_on_a_fresh_one() -> None:
    served = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        await read_request(reader)
        served += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()  # closes a keep-alive connection while it sits idle in the pool

    async def main() -> None:
        server, url = await serve(handler)
        async with httpx.AsyncClient(transport=PooledTransport()) as client:
            assert (await client.post(url, content=b"1")).text == "ok"
            await asyncio.sleep(0.05)
            assert (await client.post(url, content=b"2")).text == "ok"
        assert served == 2
        server.close()
        await server.wait_closed()

    run(main())


def test_errors_map_to_httpx_exceptions() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # says nothing until the client gives up
        writer.close()

    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
        await writer.drain()
        writer.close()

    async def main() -> None:
        async with httpx.AsyncClient(transport=PooledTransport()) as client:
            with pytest.raises(httpx.ConnectError):
                await client.post("http://127.0.0.1:9/", content=b"x")
            server, url = await serve(silent)
            with pytest.raises(httpx.ReadTimeout):
                await client.post(url, content=b"x", timeout=httpx.Timeout(0.2))
            server.close()
            await server.wait_closed()
            server, url = await serve(cut)
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post(url, content=b"x")
            server.close()
            await server.wait_closed()

    run(main())


def test_idle_connections_are_closed_after_the_keep_alive_expiry() -> None:
    async def main() -> None:
        closed = asyncio.Event()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            await writer.drain()
            await reader.read()  # returns b"" when the client closes the idle connection
            closed.set()
            writer.close()

        server, url = await serve(handler)
        transport = PooledTransport(keep_alive_expiry_s=0.05)
        async with httpx.AsyncClient(transport=transport) as client:
            r = await client.post(url + "/v1/x", content=b"{}")
            assert r.status_code == 200
            assert transport.idle_connections == 1
            await asyncio.wait_for(closed.wait(), timeout=10)
            assert transport.idle_connections == 0
        server.close()
        await server.wait_closed()

    run(main())
