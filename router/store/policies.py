"""Policy versions, activations and the change feed replicas poll, over `Database`."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from router.store.database import Database
from router.store.schema import changes, policy_versions

POLICY = "policy"
ACCOUNTS = "accounts"


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """One stored policy text; `activated_*` name its latest activation (None: never)."""

    id: int
    yaml: str
    hash: str
    comment: str | None
    created_by: str
    created_at: float
    activated_by: str | None
    activated_at: float | None


@dataclass(frozen=True, slots=True)
class Change:
    id: int
    kind: str
    ref: int | None


def policy_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class PolicyStore:
    """Stores versions without activating them; activation is a row in the change feed."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, text: str, comment: str | None, actor: str) -> PolicyVersion:
        await self._db.upgrade()
        now = time.time()
        async with self._db.engine.begin() as conn:
            result = await conn.execute(
                policy_versions.insert().values(
                    yaml=text, hash=policy_hash(text), comment=comment, created_by=actor,
                    created_at=now,
                ).returning(policy_versions.c.id)
            )
            new_id = int(result.scalar_one())
        found = await self.get(new_id)
        assert found is not None
        return found

    async def get(self, version_id: int) -> PolicyVersion | None:
        rows = await self._db.fetch(
            select(policy_versions).where(policy_versions.c.id == version_id)
        )
        return _version(rows[0]) if rows else None

    async def versions(self) -> list[PolicyVersion]:
        rows = await self._db.fetch(select(policy_versions).order_by(policy_versions.c.id))
        return [_version(row) for row in rows]

    async def count(self) -> int:
        rows = await self._db.fetch(select(func.count()).select_from(policy_versions))
        return int(rows[0][0])

    async def activations(self) -> list[int]:
        """Version ids in the order they were activated (the last is the active one)."""
        rows = await self._db.fetch(
            select(changes.c.ref).where(changes.c.kind == POLICY).order_by(changes.c.id)
        )
        return [int(row[0]) for row in rows]

    async def active(self) -> PolicyVersion | None:
        rows = await self._db.fetch(
            select(changes.c.ref).where(changes.c.kind == POLICY)
            .order_by(changes.c.id.desc()).limit(1)
        )
        return await self.get(int(rows[0][0])) if rows else None

    async def activate(self, version_id: int, actor: str) -> None:
        await self._db.upgrade()
        now = time.time()
        async with self._db.engine.begin() as conn:
            await conn.execute(
                policy_versions.update().where(policy_versions.c.id == version_id)
                .values(activated_by=actor, activated_at=now)
            )
            await conn.execute(
                changes.insert().values(kind=POLICY, ref=version_id, actor=actor, at=now)
            )

    async def record_texts(self, since: float, limit: int) -> list[str]:
        """Stored request records for what-if (newest first)."""
        return await self._db.record_texts(since, limit)

    async def note_change(self, kind: str, actor: str) -> None:
        """Tell the other replicas that something of `kind` changed."""
        await self._db.upgrade()
        async with self._db.engine.begin() as conn:
            await conn.execute(changes.insert().values(kind=kind, actor=actor, at=time.time()))

    async def last_change(self) -> int:
        rows = await self._db.fetch(select(func.max(changes.c.id)))
        return int(rows[0][0] or 0)

    async def changes_after(self, change_id: int) -> list[Change]:
        rows = await self._db.fetch(
            select(changes.c.id, changes.c.kind, changes.c.ref)
            .where(changes.c.id > change_id).order_by(changes.c.id)
        )
        return [Change(int(r[0]), str(r[1]), None if r[2] is None else int(r[2])) for r in rows]


def _version(row: Any) -> PolicyVersion:
    m = row._mapping
    return PolicyVersion(
        id=int(m["id"]), yaml=str(m["yaml"]), hash=str(m["hash"]), comment=m["comment"],
        created_by=str(m["created_by"]), created_at=float(m["created_at"]),
        activated_by=m["activated_by"], activated_at=m["activated_at"],
    )
