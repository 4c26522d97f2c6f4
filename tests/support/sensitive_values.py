"""Sensitive values to plant in requests, and the disguises a careless caller may wrap them in.

Shared by the detector tests and the leak property test: one list of what must never reach an
external model, and one list of the disguises Junction promises to see through. Every value is
fake (test card ranges, example.com, documentation IBANs, AWS's published example key).
"""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Planted:
    """A sensitive value of one kind, and the text around it that a prompt would carry."""

    kind: str
    value: str
    context: str = "{value}"  # how a prompt carries it; "{value}" marks the spot

    def text(self, value: str | None = None) -> str:
        return self.context.format(value=self.value if value is None else value)


def _pem() -> str:
    body = "MIIEowIBAAKCAQEA7bq98ZuNmWlzV0dKx3nVtC9vLZc5aRkqH5V0Y2h4d3Jx8a2Lm0p1\n" * 3
    return f"-----BEGIN RSA PRIVATE KEY-----\n{body}-----END RSA PRIVATE KEY-----"


PLANTED: tuple[Planted, ...] = (
    Planted("payment_card", "4111 1111 1111 1111", "please charge card {value} today"),
    Planted("payment_card", "5555555555554444", "ref {value}"),
    Planted("email", "jane.doe@example.com", "write to {value} about it"),
    Planted("iban", "GB82 WEST 1234 5698 7654 32", "pay into {value}"),
    Planted("us_ssn", "078-05-1120", "SSN: {value}"),
    Planted("phone", "+44 20 7946 0958", "call me on {value}"),
    Planted("api_key", "AKIAIOSFODNN7EXAMPLE", "aws_access_key_id = {value}"),
    Planted("private_key", _pem(), "{value}"),
    Planted("confidential_marker", "CONFIDENTIAL", "{value}: Q3 board memo"),
    Planted(
        "webhook",
        "https://hooks.slack.com/services/T0A1B2C3D/B0A1B2C3D/abcdefGHIJKLmnopQRSTuvwx",
        "post alerts to {value}",
    ),
    Planted(
        "connection_string",
        "postgresql://admin:Tr0ub4dor&3@db.internal.example.com:5432/payroll",
        "DATABASE_URL={value}",
    ),
)


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "0" <= c <= "9" else c for c in text)


def _zero_width(text: str) -> str:
    return "\u200b".join(text)


_CYRILLIC = str.maketrans({"C": "\u0421", "O": "\u041e", "A": "\u0410", "E": "\u0415"})


def _homoglyph(text: str) -> str:
    return text.translate(_CYRILLIC)


def _dotted(text: str) -> str:
    digits = "".join(c for c in text if c.isdigit())
    if len(digits) != len(text.replace(" ", "").replace("-", "")):
        return text  # only digit runs take other separators
    return ".".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def _base64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _base64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _hex(text: str) -> str:
    return text.encode().hex()


def _percent(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def _data_url(text: str) -> str:
    return "data:text/plain;base64," + _base64(text)


DISGUISES: dict[str, Callable[[str], str]] = {
    "plain": lambda text: text,
    "fullwidth": _fullwidth,
    "zero_width": _zero_width,
    "homoglyph": _homoglyph,
    "dotted": _dotted,
    "base64": _base64,
    "base64url": _base64url,
    "hex": _hex,
    "percent": _percent,
    "data_url": _data_url,
}
"""Every disguise Junction promises to see through, by name."""


def encodings(value: str) -> Iterator[str]:
    """The value and every disguise of it, to search a recorded upstream request for."""
    for disguise in DISGUISES.values():
        yield disguise(value)
