"""The dashboard's session cookie: the admin token's name and an expiry, signed with HMAC-SHA256
keyed by that token, so rotating or removing a token ends its sessions. Pure, no I/O."""

from __future__ import annotations

import base64
import hashlib
import hmac

from router.control.roles import Actor, Role
from router.settings import AdminTokenSpec

COOKIE = "junction_dashboard"


def issue(spec: AdminTokenSpec, expires: float) -> str:
    """A cookie value for the holder of `spec`, valid until `expires` (Unix seconds)."""
    payload = base64.urlsafe_b64encode(f"{spec.name}|{int(expires)}".encode()).decode()
    return f"{payload}.{_sign(spec, payload)}"


def verify(value: str, tokens: list[AdminTokenSpec], now: float) -> Actor | None:
    """The actor a cookie stands for, or None if it is forged, expired or its token is gone."""
    payload, _, signature = value.partition(".")
    try:
        name, expires = base64.urlsafe_b64decode(payload.encode()).decode().rsplit("|", 1)
        deadline = int(expires)
    except (ValueError, UnicodeDecodeError):
        return None
    if deadline < now:
        return None
    found: Actor | None = None
    for spec in tokens:  # every token is tried, so timing tells nothing about the names
        if spec.name == name and hmac.compare_digest(_sign(spec, payload), signature):
            found = Actor(spec.name, Role.named(spec.role))
    return found


def _sign(spec: AdminTokenSpec, payload: str) -> str:
    key = spec.token.get_secret_value().encode()
    return hmac.new(key, b"junction-dashboard:" + payload.encode(), hashlib.sha256).hexdigest()
