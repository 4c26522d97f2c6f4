"""Who may act on a request after it was served (today: rate it through `/v1/feedback`).

Feedback moves the shared quality estimates that drive routing, so only the caller who made a
request may rate it: the same key, another key of the same team, or the admin token. A keyless
request (keys not required) belongs to every keyless caller alike, and to no key.
"""

from __future__ import annotations

import hmac

from pydantic import SecretStr

from router.accounts.models import Principal


def is_admin_token(token: str | None, admin_token: SecretStr | None) -> bool:
    """Whether `token` is the operator's admin token (constant-time compare)."""
    if token is None or admin_token is None:
        return False
    return hmac.compare_digest(token.encode(), admin_token.get_secret_value().encode())


def owns_request(
    caller: Principal | None, *, key_id: str | None, team: str | None
) -> bool:
    """Whether `caller` (None: no accounts service, i.e. keyless) made, or shares the team
    of, the request recorded with `key_id` and `team`."""
    caller_key = None if caller is None else caller.key_id
    if key_id is None:
        # A keyless request; the anonymous team it may be charged to is not an owner, so no
        # key of that team may rate it.
        return caller_key is None
    if caller_key is None or caller is None:
        return False
    return caller_key == key_id or (team is not None and caller.team == team)
