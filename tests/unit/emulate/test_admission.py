"""The FIFO admission gate."""

from __future__ import annotations

import asyncio
from typing import Any

from junction_emulate.admission import AdmissionGate
from junction_emulate.asgi import Request


async def _never_disconnects() -> dict[str, Any]:
    await asyncio.Event().wait()
    return {"type": "http.disconnect"}


async def _no_send(message: Any) -> None:
    return None


async def _settle() -> None:
    # A few loop turns: a granted turn wakes its waiter through asyncio.wait's callbacks.
    for _ in range(5):
        await asyncio.sleep(0)


def _request() -> Request:
    scope = {"method": "POST", "path": "/", "headers": []}
    return Request(scope, b"", _never_disconnects, _no_send)


def test_waiters_are_admitted_in_arrival_order_and_when_the_limit_grows() -> None:
    async def scenario() -> list[int]:
        gate = AdmissionGate(1)
        order: list[int] = []
        requests = [_request() for _ in range(4)]

        async def run(i: int) -> None:
            await gate.acquire(requests[i])
            order.append(i)

        await gate.acquire(requests[0])
        tasks = [asyncio.create_task(run(i)) for i in (1, 2, 3)]
        await _settle()
        assert (gate.running, gate.waiting) == (1, 3)
        gate.release()
        await _settle()
        assert order == [1]
        gate.set_limit(3)
        await asyncio.gather(*tasks)
        assert (gate.running, gate.waiting) == (3, 0)
        for request in requests:
            request.close()
        return order

    assert asyncio.run(scenario()) == [1, 2, 3]
