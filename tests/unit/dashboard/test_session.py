"""The dashboard's session cookie: valid for its token until it expires; forged, expired,
renamed or rotated tokens are refused."""

from __future__ import annotations

from pydantic import SecretStr

from router.control.roles import Role
from router.dashboard import session
from router.settings import AdminTokenSpec

VIEWER = AdminTokenSpec(name="dash", token=SecretStr("viewer-token-0123456789"), role="viewer")
ADMIN = AdminTokenSpec(name="ops", token=SecretStr("admin-token-0123456789ab"), role="admin")


def test_a_cookie_stands_for_its_token_until_it_expires() -> None:
    value = session.issue(VIEWER, expires=1000.0)
    actor = session.verify(value, [ADMIN, VIEWER], now=999.0)
    assert actor is not None and (actor.name, actor.role) == ("dash", Role.VIEWER)
    assert session.verify(value, [ADMIN, VIEWER], now=1001.0) is None


def test_forged_or_orphaned_cookies_are_refused() -> None:
    value = session.issue(VIEWER, expires=1000.0)
    payload, _, signature = value.partition(".")
    # Claiming the admin's name with the viewer's signature.
    forged = session.issue(ADMIN, 1000.0).partition(".")[0] + "." + signature
    assert session.verify(forged, [ADMIN, VIEWER], now=0.0) is None
    assert session.verify(payload + "." + "0" * 64, [VIEWER], now=0.0) is None
    assert session.verify("garbage", [VIEWER], now=0.0) is None
    assert session.verify("", [VIEWER], now=0.0) is None
    rotated = AdminTokenSpec(name="dash", token=SecretStr("a-new-token-0123456789"),
                             role="viewer")
    assert session.verify(value, [rotated], now=0.0) is None
    assert session.verify(value, [ADMIN], now=0.0) is None
