"""`ChangeBus`: replicas told at once, through Redis pub/sub, that the change feed moved.

A message carries nothing but "look now": the database's `changes` table stays the one source
of truth, so a replica that reads it after a notification, or after its safety-net poll when a
message was lost (pub/sub delivers at most once), ends in the same state. Without Redis there
is no bus and replicas only poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

_RECONNECT_S = 1.0


class ChangeBus:
    """Publishes "changed" on one channel and wakes `changed` (an event) when anyone does."""

    def __init__(self, redis: Redis, channel: str) -> None:
        self._redis = redis
        self.channel = channel
        self.changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._interrupted = False
        self.listening = False  # subscribed now: notifications would arrive

    async def start(self) -> None:
        """Subscribe in the background. Nothing is missed meanwhile: each (re)subscription
        sets `changed`, so the feed is read once the bus listens."""
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="junction-change-bus")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def publish(self) -> None:
        """Tell every replica to read the change feed; a failure only delays them to their
        next poll, so it is logged, not raised."""
        try:
            await self._redis.publish(self.channel, b"changed")
        except (RedisError, OSError) as exc:
            log.warning("could not notify the other replicas of a change (they will see it at "
                        "their next poll): %s", type(exc).__name__)

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    self.listening = True
                    if self._interrupted:
                        log.info("change notifications resumed")
                        self._interrupted = False
                    # Anything may have changed while this replica was not listening.
                    self.changed.set()
                    while True:
                        message = await pubsub.get_message(timeout=30.0)
                        if message is not None and message.get("type") == "message":
                            self.changed.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: listen again once it is back
                self.listening = False
                if not self._interrupted:  # once per outage, not once per retry
                    log.warning("change notifications interrupted (%s); polling the change "
                                "feed until Redis is back",
                                type(exc).__name__)
                    self._interrupted = True
                await asyncio.sleep(_RECONNECT_S)
