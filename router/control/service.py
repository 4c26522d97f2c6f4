"""`PolicyControl`: stores policy versions, activates them on this replica at once and on the
others within a second, and rolls back.

Other replicas learn of a change from the database's change feed: with Redis they are told to
read it at once (`ChangeBus`) and read it anyway every few seconds in case a notification was
lost; without Redis, or while it is unreachable, they read it every `poll_interval_s` (0.5 s).

A version that fails to build leaves the old one serving: the new runtime is built completely
before the swap, and the swap is one assignment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

from router.control.errors import PolicyInvalid, PreconditionFailed
from router.control.notify import ChangeBus
from router.control.whatif import PrincipalLookup, WhatIfReport, what_if
from router.errors import InvalidRequest, NotFound, PolicyError
from router.gateway.service import ChatService
from router.policy.check import policy_warnings
from router.policy.loader import parse_policy
from router.policy.schema import Policy
from router.runtime import PolicyRuntime, PolicyVersionRef, RuntimeBuilder, RuntimeHolder
from router.store.accounts import DurableAccountStore
from router.store.audit import AuditLog
from router.store.policies import ACCOUNTS, POLICY, PolicyStore, PolicyVersion, policy_hash

log = logging.getLogger(__name__)

SEED_ACTOR = "seed"


@dataclass(frozen=True, slots=True)
class Checked:
    """A policy text that passed validation, with its warnings."""

    policy: Policy
    warnings: tuple[str, ...]


def check_policy_text(text: str, environ: Mapping[str, str], source: str = "policy") -> Checked:
    """Validate exactly as `junction policy check`; raises `PolicyInvalid` with every error."""
    try:
        policy = parse_policy(text, source=source, environ=environ)
    except PolicyError as exc:
        lines = str(exc).splitlines()
        errors = [line.strip() for line in lines[1:]] or [lines[0] if lines else str(exc)]
        raise PolicyInvalid(
            f"the policy is invalid ({len(errors)} error(s)): {'; '.join(errors)}",
            param="yaml", details={"errors": errors},
        ) from None
    return Checked(policy, tuple(policy_warnings(policy)))


class PolicyControl:
    """Versions in the database, the runtime in memory, kept in step."""

    def __init__(
        self,
        store: PolicyStore,
        audit: AuditLog,
        builder: RuntimeBuilder,
        holder: RuntimeHolder,
        chat: ChatService,
        environ: Mapping[str, str],
        accounts: DurableAccountStore | None = None,
        *,
        bus: ChangeBus | None = None,
        poll_interval_s: float = 0.5,
        notified_poll_interval_s: float = 5.0,
    ) -> None:
        self.store = store
        self.audit = audit
        self._builder = builder
        self._holder = holder
        self._chat = chat
        self._environ = environ
        self._accounts = accounts
        self._bus = bus
        self._poll_interval_s = poll_interval_s
        self._notified_poll_interval_s = notified_poll_interval_s
        self._seen_change = 0
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    # -- start and the change feed ---------------------------------------------------------

    async def start(self, seed_text: str) -> None:
        """On an empty database the seed file becomes version 1, active; otherwise the active
        version serves (the seed is ignored). Then follow the change feed."""
        if self._bus is not None:
            await self._bus.start()  # before the feed is read: no change falls between
        self._seen_change = await self.store.last_change()
        active = await self.store.active()
        if active is None:
            version = await self.store.create(seed_text, "seed: the policy file given at start",
                                              SEED_ACTOR)
            await self.store.activate(version.id, SEED_ACTOR)
            await self.audit.add(SEED_ACTOR, "policy.activate", f"policy:{version.id}",
                                 after={"id": version.id, "hash": version.hash})
            self._seen_change = await self.store.last_change()
            self._mark(version)
        elif active.hash == policy_hash(seed_text):
            self._mark(active)  # the file given at start is the active version: built already
        else:
            # The stored version wins over the file: say so, or an operator who edited the file
            # and restarted would wonder why nothing changed.
            log.warning(
                "the policy file given at start differs from the active stored version %d; "
                "serving version %d. To serve the file, store and activate it "
                "(junction policy push FILE), or start with an empty data directory",
                active.id, active.id,
            )
            if not await self._serve(active):
                log.error("active policy version %d cannot be loaded; serving the policy file",
                          active.id)
        self._task = asyncio.create_task(self._watch(), name="junction-policy-watch")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._bus is not None:
            await self._bus.close()

    async def _watch(self) -> None:
        while True:
            if self._bus is None:
                await asyncio.sleep(self._poll_interval_s)
            else:
                # Notified, the poll is only a safety net; while the bus is down it is the
                # only way changes arrive, so it runs at the unnotified pace.
                wait = (self._notified_poll_interval_s if self._bus.listening
                        else self._poll_interval_s)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._bus.changed.wait(), wait)
                # Cleared before reading: a notification during the read means read again.
                self._bus.changed.clear()
            try:
                await self.sync()
            except Exception as exc:  # the database is down: keep serving, try again
                log.warning("policy watch could not read the change feed: %s",
                            type(exc).__name__)

    async def sync(self) -> None:
        """Apply changes other replicas made: a policy activated, keys or teams edited."""
        changes = await self.store.changes_after(self._seen_change)
        if not changes:
            return
        self._seen_change = changes[-1].id
        kinds = {change.kind for change in changes}
        if ACCOUNTS in kinds and self._accounts is not None:
            await self._accounts.refresh()
        if POLICY in kinds:
            active = await self.store.active()
            current = self._holder.current.version
            if active is not None and (current is None or current.id != active.id
                                       or current.hash != active.hash):
                await self._serve(active)

    # -- reading ---------------------------------------------------------------------------

    @property
    def runtime(self) -> PolicyRuntime:
        return self._holder.current

    async def active(self) -> PolicyVersion:
        version = await self.store.active()
        if version is None:
            raise NotFound("no policy version is active yet", code="no_active_policy")
        return version

    async def version(self, version_id: int) -> PolicyVersion:
        version = await self.store.get(version_id)
        if version is None:
            raise NotFound(f"policy version {version_id} does not exist; GET "
                           "/admin/policy/versions lists them", param="id",
                           code="policy_version_not_found")
        return version

    # -- changing --------------------------------------------------------------------------

    async def push(self, text: str, comment: str | None, actor: str) -> tuple[PolicyVersion,
                                                                              Checked]:
        """Validate and store a new version without activating it."""
        checked = check_policy_text(text, self._environ)
        version = await self.store.create(text, comment, actor)
        await self.audit.add(actor, "policy.create", f"policy:{version.id}",
                             after={"id": version.id, "hash": version.hash, "comment": comment})
        return version, checked

    async def activate(self, version_id: int, actor: str, if_match: str | None = None
                       ) -> PolicyVersion:
        async with self._lock:
            version = await self.version(version_id)
            before = await self.store.active()
            if if_match is not None and (before is None or before.hash != if_match.strip('"')):
                raise PreconditionFailed(
                    f"If-Match {if_match!r} is not the active policy's hash "
                    f"({before.hash if before else 'none'}); read GET /admin/policy and retry",
                    param="If-Match",
                )
            runtime = self._build(version)  # raises PolicyInvalid; the old one keeps serving
            await self.store.activate(version.id, actor)
            await self._notify()
            await self._swap(runtime)
            await self.audit.add(
                actor, "policy.activate", f"policy:{version.id}",
                before=None if before is None else {"id": before.id, "hash": before.hash},
                after={"id": version.id, "hash": version.hash},
            )
        return await self.version(version_id)

    async def rollback(self, actor: str) -> PolicyVersion:
        """Activate the version that was active before the current one."""
        history = await self.store.activations()
        if len(history) < 2:
            raise InvalidRequest("there is no earlier active policy version to roll back to",
                                 code="nothing_to_roll_back")
        current = history[-1]
        previous = next((v for v in reversed(history[:-1]) if v != current), None)
        if previous is None:
            raise InvalidRequest("every earlier activation was of the active version "
                                 f"{current}; nothing to roll back to",
                                 code="nothing_to_roll_back")
        return await self.activate(previous, actor)

    async def what_if(self, *, version_id: int | None, text: str | None, since: float,
                      limit: int, principal_of: PrincipalLookup) -> tuple[int | None,
                                                                           WhatIfReport]:
        """Replay the window's records through a stored version or a YAML text."""
        if (version_id is None) == (text is None):
            raise InvalidRequest("give exactly one of version_id or yaml", param="version_id",
                                 code="invalid_whatif")
        if version_id is not None:
            version = await self.version(version_id)
            runtime = self._build(version)
        else:
            assert text is not None
            runtime = self._builder.build(check_policy_text(text, self._environ).policy)
        records = await self.store.record_texts(since, limit)
        return version_id, await what_if(runtime, records, principal_of)

    async def accounts_changed(self, actor: str, action: str, target: str, *,
                               before: object = None, after: object = None) -> None:
        """Audit a key or team change and tell the other replicas to reload their caches."""
        await self.audit.add(actor, action, target, before=before, after=after)
        await self.store.note_change(ACCOUNTS, actor)
        await self._notify()

    # -- plumbing --------------------------------------------------------------------------

    async def _notify(self) -> None:
        if self._bus is not None:
            await self._bus.publish()

    def _build(self, version: PolicyVersion) -> PolicyRuntime:
        checked = check_policy_text(version.yaml, self._environ, f"policy version {version.id}")
        try:
            return self._builder.build(checked.policy, PolicyVersionRef(version.id, version.hash))
        except (PolicyError, ValueError, OSError) as exc:
            raise PolicyInvalid(f"policy version {version.id} cannot be served: {exc}",
                                param="id", details={"errors": [str(exc)]}) from None

    async def _serve(self, version: PolicyVersion) -> bool:
        """Build and swap in `version`; on failure log and keep the old one (False)."""
        try:
            runtime = self._build(version)
        except PolicyInvalid as exc:
            log.error("policy version %d not activated here: %s", version.id, exc.message)
            return False
        await self._swap(runtime)
        log.info("now serving policy version %d (%s)", version.id, version.hash[:12])
        return True

    async def _swap(self, runtime: PolicyRuntime) -> None:
        await runtime.probe.start()
        old = self._holder.swap(runtime)
        self._chat.use(runtime.parts())
        # Requests in flight keep their parts; the old probe stops polling, which only
        # freezes the load figures they read.
        await old.probe.close()

    def _mark(self, version: PolicyVersion) -> None:
        """The runtime built from the seed file now knows which stored version it is."""
        current = self._holder.current
        self._holder.swap(replace(current, version=PolicyVersionRef(version.id, version.hash)))
        # The request path's parts are the same objects; they now say which version they are
        # (records and spans read it).
        self._chat.use(replace(self._chat.parts, policy_version=version.id))
