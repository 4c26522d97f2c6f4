"""How a key and its team combine into the `Principal` the request path sees."""

from __future__ import annotations

from router.accounts.models import KeyRecord, Principal, TeamRecord
from router.classify.types import Sensitivity


def principal_for(key: KeyRecord, team: TeamRecord) -> Principal:
    """The stricter of the key's and the team's rules: allowed sets intersect, the sensitivity
    floor is the higher one, the per-request cap the lower one."""
    floor = team.default_sensitivity
    if key.default_sensitivity is not None:
        floor = floor.at_least(key.default_sensitivity)
    return Principal(
        key_id=key.key_id,
        key_prefix=key.prefix,
        team=team.name,
        allowed_models=_intersect(key.allowed_models, team.allowed_models),
        allowed_routes=_intersect(key.allowed_routes, team.allowed_routes),
        default_sensitivity=floor,
        max_cost_per_request=_lowest(
            key.limits.max_cost_per_request_usd, team.limits.max_cost_per_request_usd
        ),
        anonymous=False,
        key_limits=key.limits,
        team_limits=team.limits,
    )


def anonymous_principal(sensitivity: Sensitivity, team: TeamRecord | None = None) -> Principal:
    """A keyless caller: unmetered, or metered as `team` when `accounts.anonymous_team` is set."""
    if team is None:
        return Principal(None, None, None, None, None, sensitivity, None, anonymous=True)
    return Principal(
        key_id=None,
        key_prefix=None,
        team=team.name,
        allowed_models=_intersect(None, team.allowed_models),
        allowed_routes=_intersect(None, team.allowed_routes),
        default_sensitivity=sensitivity.at_least(team.default_sensitivity),
        max_cost_per_request=team.limits.max_cost_per_request_usd,
        anonymous=True,
        team_limits=team.limits,
    )


def _intersect(
    first: tuple[str, ...] | None, second: tuple[str, ...] | None
) -> frozenset[str] | None:
    if first is None and second is None:
        return None
    if first is None:
        return frozenset(second or ())
    if second is None:
        return frozenset(first)
    return frozenset(first) & frozenset(second)


def _lowest(first: float | None, second: float | None) -> float | None:
    present = [value for value in (first, second) if value is not None]
    return min(present) if present else None
