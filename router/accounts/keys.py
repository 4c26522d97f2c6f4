"""API key secrets: `jk-<key id>-<random>`, shown once, stored only as a hash.

The key id (8 base32 characters) is the visible part: it names the key in listings and logs
and finds its record in O(1); the random part (32 bytes) is what the hash protects.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from pydantic import SecretStr

KEY_SCHEME = "jk-"
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_ID_LENGTH = 8
_KEY_RE = re.compile(r"^jk-([a-z2-7]{8})-([A-Za-z0-9_-]{32,128})$")


def new_key_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


def new_secret(key_id: str) -> str:
    return f"{KEY_SCHEME}{key_id}-{secrets.token_urlsafe(32)}"


def looks_like_junction_key(token: str) -> bool:
    """Whether a bearer token claims to be a Junction key (then it must be valid: 401 if not)."""
    return token.startswith(KEY_SCHEME)


def parse_key_id(token: str) -> str | None:
    """The key id of a well-formed Junction key, else None."""
    match = _KEY_RE.fullmatch(token)
    return match.group(1) if match else None


class KeyHasher:
    """Hashes secrets (HMAC-SHA256 with the pepper, else SHA-256) and compares in constant time."""

    def __init__(self, pepper: SecretStr | None) -> None:
        self._pepper = None if pepper is None else pepper.get_secret_value().encode()

    def hash(self, secret: str) -> str:
        if self._pepper is None:
            return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()
        return "hmac-sha256:" + hmac.new(self._pepper, secret.encode(), "sha256").hexdigest()

    def matches(self, secret: str, stored_hash: str) -> bool:
        return hmac.compare_digest(self.hash(secret).encode(), stored_hash.encode())
