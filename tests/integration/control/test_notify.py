"""`ChangeBus` on a real redis-server: a notification wakes every replica on the channel and no
other; a Redis that goes away neither raises nor stops the listener, which resubscribes (and
says so, by waking its replica) once Redis is back."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from redis.asyncio import Redis

from router.control.notify import ChangeBus
from tests.support.redis_server import RedisProcess


async def woken(bus: ChangeBus, within_s: float) -> bool:
    try:
        await asyncio.wait_for(bus.changed.wait(), within_s)
    except TimeoutError:
        return False
    bus.changed.clear()
    return True


async def listening(bus: ChangeBus, within_s: float, state: bool = True) -> None:
    """Poll the bus's `listening` flag (a state, not an event) until it is `state`."""
    async with asyncio.timeout(within_s):
        while bus.listening is not state:  # noqa: ASYNC110 - a flag, polled with a deadline
            await asyncio.sleep(0.01)


def test_a_notification_wakes_the_replicas_on_its_channel(redis_url: str) -> None:
    async def scenario() -> None:
        redis = Redis.from_url(redis_url)
        a, b = ChangeBus(redis, "t1:changes"), ChangeBus(redis, "t1:changes")
        other = ChangeBus(redis, "t2:changes")
        for bus in (a, b, other):
            await bus.start()
            await listening(bus, 5.0)
            assert await woken(bus, 5.0)  # subscribing wakes once: read what was missed
        await a.publish()
        assert await woken(b, 2.0) and await woken(a, 2.0)
        assert not await woken(other, 0.3)
        for bus in (a, b, other):
            await bus.close()
        await redis.aclose()

    asyncio.run(scenario())


def test_a_redis_that_goes_away_is_survived_and_rejoined() -> None:
    async def scenario(server: RedisProcess) -> None:
        redis = Redis.from_url(server.url, socket_timeout=1.0)
        bus = ChangeBus(redis, "t3:changes")
        await bus.start()
        await listening(bus, 5.0)
        await woken(bus, 5.0)
        server.kill()
        await listening(bus, 10.0, state=False)
        await bus.publish()  # logged, not raised: the others poll meanwhile
        server.start()
        await listening(bus, 10.0)
        assert await woken(bus, 5.0)  # back: read the feed for what happened meanwhile
        peer = Redis.from_url(server.url)
        await peer.publish("t3:changes", b"changed")
        assert await woken(bus, 2.0)
        await bus.close()
        await peer.aclose()
        await redis.aclose()

    with tempfile.TemporaryDirectory() as workdir:
        server = RedisProcess(Path(workdir))
        server.start()
        try:
            asyncio.run(scenario(server))
        finally:
            server.stop()
