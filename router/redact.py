"""Take credentials out of URLs before they reach logs, records, explain or error messages.

Endpoints may carry secrets (`http://user:pass@host`, `?api_key=...`); the request upstream
needs them, nothing else does. One function, `redact`, is used everywhere a URL may be shown.
"""

from __future__ import annotations

import logging
import re

__all__ = ["RedactingFilter", "redact"]

# userinfo between "scheme://" and "@" (no "/", "?", "#" or whitespace inside)
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s]+@")
# a query parameter whose name says it holds a secret
_QUERY_SECRET = re.compile(
    r"(?P<name>[?&;](?:[A-Za-z0-9_.-]*(?:key|token|secret|passw(?:or)?d|pwd|sig|signature|auth"
    r"|credential|session)[A-Za-z0-9_.-]*)=)(?P<value>[^&#\s\"']*)",
    re.IGNORECASE,
)
MASK = "***"


def redact(text: str) -> str:
    """`text` with the userinfo and secret-looking query values of any URL in it masked."""
    if "://" not in text and "=" not in text:
        return text
    text = _USERINFO.sub(lambda m: m["scheme"] + MASK + "@", text)
    return _QUERY_SECRET.sub(lambda m: m["name"] + MASK, text)


class RedactingFilter(logging.Filter):
    """Masks credentials in URLs inside any log record (a handler filter, so it sees all)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "://" in message:
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True
