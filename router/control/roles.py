"""Named admin tokens and their roles: `viewer` reads, `editor` stores policy versions and runs
what-if, `admin` activates, rolls back and manages keys and teams.

`JUNCTION_ADMIN_TOKEN` stays and means a token named "admin" with role admin.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import IntEnum

from pydantic import SecretStr

from router.settings import AdminTokenSpec, RoleName


class Role(IntEnum):
    """Ordered: a role may do everything the roles below it may."""

    VIEWER = 1
    EDITOR = 2
    ADMIN = 3

    @classmethod
    def named(cls, name: RoleName) -> Role:
        return cls[name.upper()]

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made an admin call: the token's name and role (never the token itself)."""

    name: str
    role: Role


def admin_tokens(single: SecretStr | None, named: list[AdminTokenSpec]) -> list[AdminTokenSpec]:
    """Every accepted token: the named ones, and the single admin token as "admin"."""
    tokens = list(named)
    if single is not None:
        # Its length was never checked; keep accepting what worked before.
        tokens.append(AdminTokenSpec.model_construct(name="admin", token=single, role="admin"))
    return tokens


def resolve(presented: str, tokens: list[AdminTokenSpec]) -> Actor | None:
    """The actor whose token this is; every token is compared, in constant time."""
    found: Actor | None = None
    given = presented.encode()
    for spec in tokens:
        if hmac.compare_digest(given, spec.token.get_secret_value().encode()) and found is None:
            found = Actor(spec.name, Role.named(spec.role))
    return found
