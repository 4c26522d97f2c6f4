"""The audit log: who changed which policy, key or team, when, and what it was before and
after. Callers hand in what may be shown; secrets never reach it (keys as listed, no hash)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from router.store.database import Database
from router.store.schema import audit_log


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: float
    actor: str
    action: str
    target: str
    before: Any
    after: Any


class AuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, actor: str, action: str, target: str, *, before: Any = None,
                  after: Any = None) -> None:
        await self._db.upgrade()
        async with self._db.engine.begin() as conn:
            await conn.execute(audit_log.insert().values(
                at=time.time(), actor=actor, action=action, target=target,
                before=None if before is None else json.dumps(before, default=str),
                after=None if after is None else json.dumps(after, default=str),
            ))

    async def entries(self, limit: int = 1000, target: str | None = None) -> list[AuditEntry]:
        """The newest `limit` entries, newest first."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if target is not None:
            query = query.where(audit_log.c.target == target)
        rows = await self._db.fetch(query)
        return [
            AuditEntry(
                id=int(m["id"]), at=float(m["at"]), actor=str(m["actor"]),
                action=str(m["action"]), target=str(m["target"]),
                before=None if m["before"] is None else json.loads(m["before"]),
                after=None if m["after"] is None else json.loads(m["after"]),
            )
            for m in (row._mapping for row in rows)
        ]
