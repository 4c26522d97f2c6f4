"""PII detectors: e-mail addresses, phone numbers, payment cards, IBANs, US SSNs, IP addresses.

Each `find_*` yields ``(kind, start, end)`` hits; a kind of ``None`` claims a span without
counting it (an IBAN-shaped string that fails its checksum is still not a card or a phone).
Speed comes from letting the regex engine skip ahead, which it only does for a pattern that
starts with a literal: a pattern that starts with a character class (digits, capitals) is
tried at every position, about ten times slower. So numbers and IBANs are searched in `shape`,
the text with every digit mapped to ``0`` and every letter to ``A``/``a`` (same offsets), where
they start with the literals ``0`` and ``AA00``; IPv4 and IPv6 addresses are seeded from their
dots and colons. Candidates are then validated on the original text.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Final

Hit = tuple[str | None, int, int]

_EMAIL_DOMAIN = re.compile(r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.([A-Za-z]{2,24})(?![\w-])")
_EMAIL_LOCAL_REVERSED = re.compile(r"[\w.%+-]{1,64}")
# File names (icon@2x.png, archive.zip@member.pkl) look like addresses but are not.
_NOT_TLDS: Final = frozenset(
    {
        "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "js", "ts", "tsx", "jsx", "css",
        "json", "pkl", "txt", "csv", "log", "bin", "exe", "dll", "yaml", "yml", "toml", "html",
        "htm", "xml", "pdf", "docx", "xlsx", "mp3", "mp4", "wav", "tar", "gz",
    }
)  # fmt: skip


def find_emails(text: str, lowered: str, shape: bytes) -> Iterator[Hit]:
    """Addresses found from their "@": the domain forwards, the local part backwards."""
    for match in _EMAIL_DOMAIN.finditer(text):
        at = match.start()
        local = _EMAIL_LOCAL_REVERSED.match(text[max(0, at - 64) : at][::-1])
        # git@github.com is an SSH remote, not a mailbox.
        if not local or local.group() == "tig" or match.group(1).lower() in _NOT_TLDS:
            continue
        start = at - local.end()
        if text.startswith("//", start - 2):
            continue  # a URL's user, "mongodb://reader@db.example.com", not a mailbox
        yield "email", start, match.end()


# In `shape`: digit groups joined by single separators (space, dot, dash, parentheses), not
# glued to a word, a path or a decimal; the shared candidate for cards, SSNs and phone numbers.
# The look-ahead drops short numbers ("12 projects") before any Python runs. A leading "+" or
# "(" is added back in Python.
_NUMBER = re.compile(
    rb"0(?<![Aa0\-./]0)(?=[0 .()\-]{6})0*(?:(?:[ .\-]?[()][ .\-]?|[ .\-])0+)*(?![Aa0]|[.\-][Aa0])"
)
_DIGITS = re.compile(r"\d+")
_CHUNK = re.compile(r"[^ ]+")
_MAX_CHUNKS = 8
_SSN_SHAPE = re.compile(r"\d{3}([- ])\d{2}\1\d{4}")
_US_PHONE = re.compile(r"(?:\+?1[ .\-]?)?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .\-])\d{3}[ .\-]\d{4}")
_IPV4_SHAPE = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_OPERANDS: Final = frozenset("0123456789)]")
_ZIP4 = re.compile(r"\d{5}-\d{4}")  # a US ZIP+4 code, "02110-1301"
# Bare digit runs: Visa 16, Mastercard 16, Amex 15, Discover 16, JCB 16, UnionPay 16.
_STRICT_CARD = re.compile(
    r"4\d{15}|5[1-5]\d{14}|2(?:2[2-9][1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)\d{12}|3[47]\d{13}"
    r"|6(?:011|5\d\d|4[4-9]\d)\d{12}|35(?:2[89]|[3-8]\d)\d{12}|62\d{14}"
)
_DATE = re.compile(r"(?:19|20)\d\d([-./])\d\d?\1\d\d?(?!\d)|\d\d?([-./])\d\d?\2(?:19|20)\d\d(?!\d)")
_DATE_LIKE = re.compile(r"\d{1,2}[.\-]\d{1,2}[.\-](?:19|20)\d\d|(?:19|20)\d\d[.\-]\d{1,2}[.\-]")
_PHONE_WORDS = re.compile(
    r"\b(?:phone|tel|telephone|mobile|cell|fax|whatsapp|sms|contact"
    r"|(?:call|text|reach|ring) (?:me|us))\b[^\n\d]{0,20}$"
)
_CARD_WORDS = re.compile(r"\b(?:card|visa|mastercard|amex|discover|jcb|credit|debit|cc|pan)\b")
_SSN_WORDS = re.compile(r"(?:ssn|social security(?: number| no\.?)?)\b[^\n\d]{0,20}$")


def find_numbers(text: str, lowered: str, shape: bytes) -> Iterator[Hit]:
    """Payment cards, US SSNs and phone numbers, which share one candidate pattern."""
    for match in _NUMBER.finditer(shape):
        start, end = match.span()
        if start and text[start - 1] in "+(":
            start -= 1
            if start and (text[start - 1].isalnum() or text[start - 1] in "_+-./"):
                continue
            if text[start] == "+" and text[:start].rstrip()[-1:] in _OPERANDS:
                continue  # "1 +4412345678" is arithmetic, not a phone number
        candidate = text[start:end]
        if _IPV4_SHAPE.fullmatch(candidate):
            continue  # the IP detector's
        yield from _number_hits(candidate, lowered, start)


def _number_hits(candidate: str, lowered: str, offset: int) -> Iterator[Hit]:
    # Spaces both group one number ("4111 1111 1111 1111") and separate two ("123-45-6789 5"),
    # so windows of space-separated chunks are tried longest first, left to right.
    if " " not in candidate:
        kind = _number_kind(candidate, lowered, offset)
        if kind:
            yield kind, offset, offset + len(candidate)
        return
    chunks = [m.span() for m in _CHUNK.finditer(candidate)]
    i = 0
    while i < len(chunks):
        for j in range(min(len(chunks), i + _MAX_CHUNKS), i, -1):
            start, end = chunks[i][0], chunks[j - 1][1]
            kind = _number_kind(candidate[start:end], lowered, offset + start)
            if kind:
                yield kind, offset + start, offset + end
                i = j
                break
        else:
            i += 1


def _number_kind(candidate: str, lowered: str, start: int) -> str | None:
    if len(candidate) < 7 or _DATE.match(candidate.lstrip("+(")) or _ZIP4.fullmatch(candidate):
        return None
    groups = _DIGITS.findall(candidate)
    digits = "".join(groups)
    if _SSN_SHAPE.fullmatch(candidate):
        return "us_ssn" if _valid_ssn(digits) else None
    separators = set(candidate).difference("0123456789")
    if _card_grouping(separators, groups) and _valid_card(digits, grouped=bool(separators)):
        # A bare run of digits in an issuer's range is a card, unless it sits among other
        # numbers (an argument list, arithmetic), where a card word has to say so.
        end = start + len(candidate)
        if (
            separators
            or not _amid_numbers(lowered, start, end)
            or _CARD_WORDS.search(lowered, max(0, start - 48), start)
        ):
            return "payment_card"
    if _is_phone(candidate, groups, digits):
        return "phone"
    before = lowered[max(0, start - 32) : start]
    if len(digits) == 9 and separators <= {" ", "-", "."} and _SSN_WORDS.search(before):
        return "us_ssn" if _valid_ssn(digits) else None
    decimal = "." in candidate and max(len(g) for g in groups) > 4
    if 7 <= len(digits) <= 15 and not decimal and _PHONE_WORDS.search(before):
        return "phone"
    return None


def _card_grouping(separators: set[str], groups: list[str]) -> bool:
    """Spaces or dashes group a card any way; dots only in fours ("4111.1111.1111.1111")."""
    if separators <= {" ", "-"}:
        return True
    if separators != {"."} or len(groups) < 3:
        return False
    lengths = [len(g) for g in groups]
    return lengths == [4, 6, 5] or (set(lengths[:-1]) == {4} and 1 <= lengths[-1] <= 4)


# A number just before (not a digit glued to a word, as in "base64,"), an operator, or the
# "=" after an expression ("579704230 * 602265 = 349135568080950").
_NUMBER_BEFORE = re.compile(r"(?:(?<![\w.])[\d.]+ *,? *|[*/+^%] *|[\d)\]] *[=≈] *)$")
_NUMBER_AFTER = re.compile(r" *(?:,? *-?\d|[*/+^%])")


def _amid_numbers(lowered: str, start: int, end: int) -> bool:
    """Among other numbers: "f(1, 6458161865649291, -53)", "6458161865649291 * 2"."""
    return bool(
        _NUMBER_BEFORE.search(lowered, max(0, start - 24), start)
        or _NUMBER_AFTER.match(lowered, end)
    )


# In `shape`: digit runs joined by one or two separators of any kind ("a" stands for a letter
# or "_"); `find_separated_cards` keeps those whose separators are punctuation that
# `find_numbers` does not take ("4111_1111_1111_1111", "4111/1111/...", "4 1 1 1 ...").
_SEPARATED = re.compile(
    rb"0(?<![Aa0]0)0*(?:[ .\-]{1,2}0+)*[ .\-]?[/|*a][ .\-]?0+(?:[ /|*.\-a]{1,2}0+)*(?![Aa0])"
    rb"|0(?<![Aa0]0)(?: 0){12,18}(?![Aa0])"
)
_ODD_SEPARATORS: Final = frozenset("_/|*")
_CARD_SEPARATORS: Final = frozenset(" _/|*.-")


def find_separated_cards(text: str, lowered: str, shape: bytes) -> Iterator[Hit]:
    """Cards written with separators people use to dodge a filter: underscores, slashes,
    bars, asterisks, or a space after every digit. Luhn and an issuer range still apply."""
    if not any(sep in text for sep in ("_", "/", "|", "*", " ")):
        return
    for match in _SEPARATED.finditer(shape):
        start, end = match.span()
        candidate = text[start:end]
        separators = {c for c in candidate if not c.isdigit()}
        if not separators <= _CARD_SEPARATORS:
            continue  # a letter between the digits: an id, not a card
        groups = [g for g in re.split(r"[ _/|*.\-]+", candidate) if g]
        spaced_out = all(len(g) == 1 for g in groups)
        # Written as a card is ("4111_1111_1111_1111", "3782/822463/10005"), not arithmetic
        # ("409686242 * 1396151") or a path of ids.
        grouped = len(groups) >= 3 and all(2 <= len(g) <= 6 for g in groups)
        if not ((separators & _ODD_SEPARATORS and grouped) or spaced_out):
            continue  # ordinary grouping: `find_numbers` judges it
        digits = "".join(groups)
        if _valid_card(digits, grouped=True):
            yield "payment_card", start, end


def _valid_ssn(digits: str) -> bool:
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _valid_card(digits: str, *, grouped: bool) -> bool:
    """Luhn plus an issuer prefix and length; a bare digit run must match a major issuer.

    Grouped numbers ("4111 1111 1111 1111") may be 13-19 digits from any issuer starting with
    2-6. A run without separators is more often an id or a big integer in code, so it needs the
    exact length of Visa, Mastercard, Amex, Discover, JCB or UnionPay.
    """
    if grouped:
        if not 13 <= len(digits) <= 19 or digits[0] not in "23456":
            return False
        if digits[0] == "2" and not 2221 <= int(digits[:4]) <= 2720:
            return False
    elif not _STRICT_CARD.fullmatch(digits):
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _is_phone(candidate: str, groups: list[str], digits: str) -> bool:
    dotted = "." in candidate
    if candidate.startswith("+"):
        # "+14155550132", "+44 20 7946 0958", "+1.415.555.0132"; not "+53.5981500331442".
        longest = max(len(g) for g in groups)
        return 8 <= len(digits) <= 15 and (
            (len(groups) == 1 and len(digits) >= 10)
            or (len(groups) >= 2 and longest <= (4 if dotted else 8))
        )
    if _US_PHONE.fullmatch(candidate):
        return True
    if digits.startswith("00"):  # the international call prefix: 0044 20 7946 0958
        return 10 <= len(digits) <= 15 and len(groups) >= 3 and not dotted and len(groups[0]) >= 4
    # A national number with a trunk 0, grouped: 020 7946 0018, 01 23 45 67 89, 030 12345678.
    if not digits.startswith("0") or not 9 <= len(digits) <= 12 or len(groups) < 2:
        return False
    if _DATE_LIKE.match(candidate) or (dotted and any(len(g) != 2 for g in groups)):
        return False
    return 2 <= len(groups[0]) <= 5 and all(2 <= len(g) <= 8 for g in groups[1:])


_IBAN = re.compile(rb"AA00(?<![Aa0]AA00)(?: ?[A0]{4}){2,8}(?: ?[A0]{1,3})?(?![Aa0])")
# Written in lower case ("gb82 west 1234 ..."): only a known country with a valid checksum
# counts, and a failed candidate claims nothing, as lower-case words are everywhere.
_LOWER_IBAN = re.compile(rb"aa00(?<![Aa0]aa00)(?: ?[a0]{4}){2,8}(?: ?[a0]{1,3})?(?![Aa0])")
_IBAN_LENGTHS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22,
        "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21,
        "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
        "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SA": 24,
        "SE": 24, "SI": 19, "SK": 24, "TR": 26, "AE": 23, "BR": 29, "IL": 23, "QA": 29,
    }
)  # fmt: skip


def find_ibans(text: str, lowered: str, shape: bytes) -> Iterator[Hit]:
    """IBANs with or without spaces: the country's length and the mod-97 check must hold."""
    for match in _IBAN.finditer(shape):
        valid = _valid_iban(text[match.start() : match.end()], known_country=False)
        yield ("iban" if valid else None), match.start(), match.end()
    if b"aa00" in shape:
        for match in _LOWER_IBAN.finditer(shape):
            if _valid_iban(text[match.start() : match.end()].upper(), known_country=True):
                yield "iban", match.start(), match.end()


def _valid_iban(candidate: str, *, known_country: bool) -> bool:
    compact = candidate.replace(" ", "")
    expected = _IBAN_LENGTHS.get(compact[:2])
    if expected is None and known_country:
        return False
    if expected is not None and len(compact) >= expected:
        compact = compact[:expected]  # the pattern may have run into a following word
    return (
        (expected is None and 15 <= len(compact) <= 34) or len(compact) == expected
    ) and _iban_checksum_ok(compact)


def _iban_checksum_ok(iban: str) -> bool:
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


# The last three octets, led by their dot; the first is read backwards in Python.
_IPV4_TAIL = re.compile(r"\.\d{1,3}\.\d{1,3}\.\d{1,3}(?!\w|\.\d)")
# "version 1.2.3.4", "v1.0.0.1", "==2.0.0.1", "from release 1.2.3.4 to 1.2.4.0"
_VERSION_BEFORE = re.compile(
    r"(?:\b(?:version|release|firmware|build|upgrade|bump)s?\b[^\n]{0,24}|\bv|\bver\.?|[=<>~]=)\s*$"
)


def find_ipv4(text: str, lowered: str, shape: bytes) -> Iterator[Hit]:
    """Dotted quads, loopback and private ranges included; version strings are skipped."""
    for match in _IPV4_TAIL.finditer(text):
        start = match.start()
        while start > 0 and match.start() - start < 3 and text[start - 1].isdigit():
            start -= 1
        if start == match.start() or (
            start and (text[start - 1].isalnum() or text[start - 1] in "_.")
        ):
            continue
        if any(int(octet) > 255 for octet in text[start : match.end()].split(".")):
            continue
        if _VERSION_BEFORE.search(lowered, max(0, start - 40), start):
            yield None, start, match.end()
            continue
        yield "ip_address", start, match.end()


# IPv6 is found from its colons: a literal-led seed, then the run of hex, colons and dots
# around it (dots for an embedded IPv4 tail), validated by the standard library.
_IPV6_SEED = re.compile(r":[0-9A-Fa-f]{0,4}:")
_IPV6_LEFT_REVERSED = re.compile(r"[0-9A-Fa-f:]{0,39}")
_IPV6_RIGHT = re.compile(r"[0-9A-Fa-f:.]{0,45}")


def find_ipv6(text: str, lowered: str, shape: bytes) -> Iterator[Hit]:
    """Needs two groups and one of three or more hex digits: `a[1::2]` and `::1` stay out."""
    reach = 0
    for seed in _IPV6_SEED.finditer(text):
        if seed.start() < reach:
            continue
        left = _IPV6_LEFT_REVERSED.match(text[max(0, seed.start() - 39) : seed.start()][::-1])
        start = seed.start() - (left.end() if left else 0)
        right = _IPV6_RIGHT.match(text, seed.start())
        end = right.end() if right else seed.end()
        while end > start and text[end - 1] == ".":
            end -= 1  # a full stop, not part of the address
        reach = end
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_.:"):
            continue
        if end < len(text) and (text[end].isalnum() or text[end] == "_"):
            continue
        candidate = text[start:end]
        groups = [g for g in candidate.split(":") if g]
        if len(groups) < 2 or not any(len(g) >= 3 for g in groups):
            continue
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        yield "ip_address", start, end
