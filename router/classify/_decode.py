"""Encoded payloads inside a text: base64, base64url and hex runs (``data:`` URLs included).

`encoded_runs` finds candidate runs of `MIN_RUN` or more characters; `decode` turns one into
text, or ``None`` when it is not encoded text: binary (a PNG, a hash, a key's DER body) fails strict
UTF-8 or carries control characters, and an ordinary identifier decodes to such noise too.
A `DecodeBudget` caps the bytes decoded for one scanned text, so a megabyte of base64 costs
at most one budget's worth of work, however deeply it is nested; each attempt costs at least
`MIN_CHARGE`. A binary payload costs only a probe of its first 48 bytes, so an image cannot
use the budget up to hide a key after it.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

MIN_RUN: Final = 12  # 9 bytes: "078-05-1120" encodes to 16 characters with its padding
DEFAULT_BUDGET: Final = 1 << 20  # bytes decoded per scanned text, all levels together
# Every attempt costs at least this much of the budget, as trying costs time whatever the
# size: a text of short random tokens gets ~32,000 attempts (~0.1 s), not 116,000.
MIN_CHARGE: Final = 32

# Runs of the base64 alphabets (standard and URL-safe); a ``data:...;base64,`` URL's payload
# starts after its comma, so it is one of these runs. They are searched in the shape view
# mapped once more, every character of the alphabets to "A" and any other to ".", where a run
# starts with a literal that `bytes.find` skips to (a regex is ten times slower at this).
_ALPHABET_SHAPE: Final = bytes(ord("A") if c in b"Aa0+/-" else ord(".") for c in range(256))
_CAPITAL_OR_DIGIT: Final = bytes(ord("A") if c in b"A0" else ord(".") for c in range(256))
_RUN: Final = b"A" * MIN_RUN
_HEX = re.compile(r"(?:[0-9a-f]{2})+|(?:[0-9A-F]{2})+")
_URLSAFE = str.maketrans("-_", "+/")
# Line-wrapped base64 (MIME, PEM, `base64` on a terminal) wraps at 64 or 76 characters.
_WRAP_WIDTHS: Final = (64, 76)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PROBE: Final = 64  # characters: 48 bytes of base64, 32 of hex


@dataclass(slots=True)
class DecodeBudget:
    """Bytes left to decode for one scanned text; shared by every level of nesting."""

    remaining: int = DEFAULT_BUDGET


def encoded_runs(view: str, shape: bytes, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Spans of candidate encoded runs that start in ``[start, end)``, wrapped lines joined."""
    runs = shape.translate(_ALPHABET_SHAPE)
    capitals = shape.translate(_CAPITAL_OR_DIGIT)
    find = runs.find
    run_start = find(_RUN, start)
    while run_start != -1 and run_start < end:
        run_end = find(b".", run_start + MIN_RUN)
        if run_end == -1:
            run_end = len(runs)
        # Encoded text always holds a capital or a digit; snake_case names never do.
        if capitals.find(b"A", run_start, run_end) != -1:
            if view.startswith("\n", run_end) and run_end - run_start in _WRAP_WIDTHS:
                # A full line followed by more of the alphabet continues on the next line.
                while runs.startswith(b"A", run_end + 1) and view.startswith("\n", run_end):
                    line_start = run_end + 1
                    run_end = _run_end(runs, line_start)
                    if run_end - line_start not in _WRAP_WIDTHS:
                        break
            if view.startswith("=", run_end):
                run_end += 2 if view.startswith("==", run_end) else 1
            yield run_start, run_end
        run_start = find(_RUN, run_end)


def _run_end(runs: bytes, pos: int) -> int:
    end = runs.find(b".", pos)
    return len(runs) if end == -1 else end


def decode(run: str, budget: DecodeBudget) -> str | None:
    """The text `run` encodes (hex first, then base64 or base64url), or ``None``.

    A probe of its first `_PROBE` characters is decoded first: a binary payload (an image)
    costs the budget only that much.
    """
    run = run.replace("\n", "")
    if budget.remaining <= 0 or len(run) < MIN_RUN:
        return None
    if len(run) % 2 == 0 and _HEX.fullmatch(run):
        text = _decoded_text(run, budget, bytes.fromhex, chars_per_byte=2, block=2)
        if text is not None:
            return text
    body = run.rstrip("=")
    if "-" in body or "_" in body:
        if "+" in body or "/" in body:
            return None  # two alphabets: not one encoding
        body = body.translate(_URLSAFE)
    if len(body) % 4 == 1:
        body = body[:-1]  # a stray character: not a whole number of bytes
    return _decoded_text(body, budget, _a2b_base64, chars_per_byte=4 / 3, block=4)


def _decoded_text(
    encoded: str,
    budget: DecodeBudget,
    to_bytes: Callable[[str], bytes],
    *,
    chars_per_byte: float,
    block: int,
) -> str | None:
    limit = int(budget.remaining * chars_per_byte) // block * block
    if limit <= 0:
        return None
    encoded = encoded[:limit]
    try:
        if len(encoded) > _PROBE:
            probe = to_bytes(encoded[:_PROBE])
            if _as_text(probe) is None:
                budget.remaining -= len(probe)
                return None
        data = to_bytes(encoded)
    except (binascii.Error, ValueError):
        budget.remaining -= MIN_CHARGE
        return None
    budget.remaining -= max(len(data), MIN_CHARGE)
    return _as_text(data)


def _a2b_base64(body: str) -> bytes:
    return binascii.a2b_base64(body + "=" * (-len(body) % 4), strict_mode=True)


def _as_text(data: bytes) -> str | None:
    """Strict UTF-8 with at most 5% control characters (tabs and newlines are text)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        # A budget cut may split the last character; anything earlier is not text.
        if error.start < len(data) - 3:
            return None
        text = data[: error.start].decode("utf-8")
    if len(text) < 4:
        return None
    if not text.isprintable() and len(_CONTROL.findall(text)) > len(text) // 20:
        return None
    return text
