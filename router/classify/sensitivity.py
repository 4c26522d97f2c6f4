"""Sensitivity: PII, secrets and confidentiality markings in request text, as counts by kind.

Detectors (in `_secrets` and `_pii`, plus the markings below) propose candidates with
precompiled regexes behind cheap substring pre-checks, then validate them in Python: Luhn and
issuer ranges for cards, mod-97 for IBANs, SSA rules for SSNs, a JSON header with ``alg`` for
JWTs, entropy for assigned secrets. Only counts leave this module; a matched value is never
returned or kept.

What the detectors see (`scan_text`):

1. the normalised text (`_normalise`): percent-decoded, NFKC, format and zero-width
   characters dropped, homoglyphs folded to ASCII; an ASCII text without a ``%XX`` is used
   as it is, at no cost;
2. then every base64, base64url or hex run of 12+ characters in it (``data:`` URLs
   included) that decodes to printable UTF-8 (`_decode`), spliced back between its
   neighbours, and normalised in turn; two levels deep at most, and 1 MiB decoded per text
   (shortest runs first; a binary run costs a 48-byte probe).

Kinds and levels (`KIND_LEVELS`); a text's level is the highest level among its kinds:

- pii: ``email``, ``phone``, ``payment_card``, ``iban``, ``us_ssn``, ``ip_address``
- confidential: ``confidential_marker`` (document markings such as "internal use only")
- secret: ``api_key`` (OpenAI, Anthropic, AWS, GitHub, Google, Slack, Stripe, GitLab, Hugging
  Face and high-entropy ``api_key=``/``token:``/``Bearer`` values), ``jwt``, ``private_key``,
  ``password`` (a ``password=`` value mixing three character classes), ``webhook`` (Slack,
  Discord, Teams/Office 365, Power Automate, Google Chat incoming-webhook URLs),
  ``connection_string`` (database and broker URLs with a password, JDBC/ADO.NET passwords,
  Azure storage and Service Bus keys), ``service_account`` (a Google service-account key file)

Decisions worth knowing:

- Loopback and private IP addresses count: in pasted logs and configs they still identify hosts.
  Dotted quads after "version", "v" or "==" are versions. IPv6 needs two groups and one of three
  or more hex digits, so slices (``a[1::2]``) stay out, and so does a bare ``::1``.
- A phone number needs a phone shape (``+`` and 8-15 digits; US ``(415) 555-0132``; a national
  trunk ``0`` with grouped digits) or a phone word just before it ("call", "tel", "mobile").
- A bare 15- or 16-digit run in a major issuer's range that passes Luhn is a card, unless it
  sits among other numbers (an argument list, arithmetic), where it needs a card word.
- A bare mention of "NDA" or "confidentiality" is a topic, not a marking; "under NDA",
  "CONFIDENTIAL" in capitals, "internal use only" and "attorney-client privileged" are markings.
- Placeholders (``sk-xxxx``, ``<your key>``, ``os.environ[...]``, ``user:password@``, a
  local default such as ``postgres:postgres@``) are not secrets.
- Where hits overlap, the first detector wins (secrets before PII), so one value counts once;
  a decoded run inside a span already claimed (a JWT's parts, a PEM body) is not counted again.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from router.classify import _decode, _normalise, _pii, _secrets
from router.classify.types import Sensitivity

KIND_LEVELS: Final[Mapping[str, Sensitivity]] = MappingProxyType(
    {
        "email": Sensitivity.PII,
        "phone": Sensitivity.PII,
        "payment_card": Sensitivity.PII,
        "iban": Sensitivity.PII,
        "us_ssn": Sensitivity.PII,
        "ip_address": Sensitivity.PII,
        "confidential_marker": Sensitivity.CONFIDENTIAL,
        "api_key": Sensitivity.SECRET,
        "jwt": Sensitivity.SECRET,
        "private_key": Sensitivity.SECRET,
        "password": Sensitivity.SECRET,
        "webhook": Sensitivity.SECRET,
        "connection_string": Sensitivity.SECRET,
        "service_account": Sensitivity.SECRET,
    }
)

Hit = tuple[str | None, int, int]
FindHits = Callable[[str, str, bytes], Iterable[Hit]]
"""A detector: ``(text, lowered, shape) -> hits``; see `scan_text` for the three views."""


@dataclass(frozen=True, slots=True)
class ExtraDetector:
    """A detector beyond the built-in ones: the organisation's own, or an optional one.

    `find` yields hits whose kind is `kind` (or ``None`` to claim a span without counting it);
    a finding of `kind` raises the text to `level`. Extra detectors run after the built-in
    ones, so a span already claimed by a built-in detector is not counted twice.
    """

    kind: str
    level: Sensitivity
    find: FindHits


@dataclass(frozen=True, slots=True)
class SensitivityScan:
    """A text's level and how many findings of each kind it holds (never the values)."""

    level: Sensitivity = Sensitivity.NONE
    findings: Mapping[str, int] = field(default_factory=dict)


def warm_up(extra: Sequence[ExtraDetector] = ()) -> None:
    """Build the tables detectors load on first use (Unicode folding, name lists) now, at
    start-up, so that the first request that needs them does not pay ~0.1 s for them."""
    scan_text("\u0421ONFIDENTIAL \uff14 Dear Anna, born 1990", extra)


def level_of(
    findings: Mapping[str, int], extra_levels: Mapping[str, Sensitivity] | None = None
) -> Sensitivity:
    """The highest level among the kinds found (``none`` when nothing was found)."""
    level = Sensitivity.NONE
    for kind, count in findings.items():
        if count > 0:
            known = KIND_LEVELS.get(kind)
            if known is None and extra_levels is not None:
                known = extra_levels.get(kind)
            level = level.at_least(known if known is not None else Sensitivity.SECRET)
    return level


def scan_text(text: str, extra: Sequence[ExtraDetector] = ()) -> SensitivityScan:
    """Runs every detector (built-in, then `extra`) over `text` and counts findings by kind.

    The detectors see the normalised text (`_normalise`), and then the text of every encoded
    run in it (`_decode`), spliced between its neighbours, down to `MAX_DECODE_DEPTH` levels.
    """
    if not text:
        return SensitivityScan()
    detectors: tuple[FindHits, ...] = _DETECTORS
    if extra:
        detectors = (*_DETECTORS, *(d.find for d in extra))
    counts: Counter[str] = Counter()
    view = _normalise.normalised(text) or text
    _scan_view(view, detectors, counts, _decode.DecodeBudget(), 0, [(0, len(view))])
    findings = dict(counts)
    levels = {d.kind: d.level for d in extra} if extra else None
    return SensitivityScan(level=level_of(findings, levels), findings=findings)


MAX_DECODE_DEPTH: Final = 2
"""Levels of encoding seen through: base64 inside base64 is found, a third layer is not."""
_CONTEXT_BEFORE: Final = 64  # enough for "aws_secret_access_key = " and a card word
_CONTEXT_AFTER: Final = 32
_SEPARATOR: Final = "\n\n"


def _scan_view(
    view: str,
    detectors: Sequence[FindHits],
    counts: Counter[str],
    budget: _decode.DecodeBudget,
    depth: int,
    windows: list[tuple[int, int]],
) -> None:
    """Counts the hits that start in `windows`, then scans what their encoded runs hold.

    Every decoded run of one level goes into one view, each spliced between its neighbours
    (the context) and separated from the next, so the detectors run once a level however
    many runs there are. Each view has its own claimed spans: a decoded value is a finding of
    its own unless the run that holds it was already claimed (a JWT's parts, a PEM body).
    """
    lowered = view.lower()
    if len(lowered) != len(view):
        # A few characters ("İ") grow when lower-cased; offsets must match the original.
        lowered = view.translate(_ASCII_LOWER)
    # One byte per character ("?" for non-ASCII), so offsets match the text.
    shape = view.encode("ascii", "replace").translate(_SHAPE)
    claims = _Claims()
    window_starts = [low for low, _ in windows]
    for detector in detectors:
        for kind, start, end in detector(view, lowered, shape):
            if claims.claim(start, end) and kind and _within(windows, window_starts, start):
                counts[kind] += 1
    if depth >= MAX_DECODE_DEPTH:
        return
    runs = list(_decode.encoded_runs(view, shape, windows[0][0], windows[-1][1]))
    if len(windows) > 1:
        runs = [span for span in runs if _within(windows, window_starts, span[0])]
    if claims.starts:
        runs = [span for span in runs if not claims.overlaps(*span)]
    # Shortest first: a key is short, an image or a document long, and the budget is shared.
    runs.sort(key=lambda span: span[1] - span[0])
    spliced: list[tuple[int, str, str, str]] = []  # (start, before, decoded, after)
    not_text: set[str] = set()  # ids and timestamps repeat; each is tried once
    for start, end in runs:
        if budget.remaining <= 0:
            break
        run = view[start:end]
        if run in not_text:
            continue
        decoded = _decode.decode(run, budget)
        if decoded is None:
            not_text.add(run)
            continue
        # Spliced back between its neighbours: "aws_secret_access_key = <base64>" still says aws.
        before = view[max(0, start - _CONTEXT_BEFORE) : start]
        after = view[end : end + _CONTEXT_AFTER]
        spliced.append((start, before, _normalise.normalised(decoded) or decoded, after))
    if not spliced:
        return
    spliced.sort(key=lambda piece: piece[0])  # text order, so the windows come sorted
    parts: list[str] = []
    inner: list[tuple[int, int]] = []
    offset = 0
    for _, before, decoded, after in spliced:
        inner.append((offset + len(before), offset + len(before) + len(decoded)))
        parts.append(before + decoded + after)
        offset += len(parts[-1]) + len(_SEPARATOR)
    _scan_view(_SEPARATOR.join(parts), detectors, counts, budget, depth + 1, inner)


def _within(windows: list[tuple[int, int]], starts: list[int], position: int) -> bool:
    i = bisect.bisect_right(starts, position) - 1
    return i >= 0 and position < windows[i][1]


class _Claims:
    """Disjoint, sorted spans already claimed by a hit; the first detector to claim wins."""

    __slots__ = ("ends", "starts")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self.starts, start)
        return bool(i and self.ends[i - 1] > start) or (
            i < len(self.starts) and self.starts[i] < end
        )

    def claim(self, start: int, end: int) -> bool:
        """Claims the span unless it overlaps one already claimed; says whether it did."""
        i = bisect.bisect_right(self.starts, start)
        if (i and self.ends[i - 1] > start) or (i < len(self.starts) and self.starts[i] < end):
            return False
        self.starts.insert(i, start)
        self.ends.insert(i, end)
        return True


_ASCII_LOWER: Final = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}
_SHAPE: Final = bytes.maketrans(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_",
    b"0" * 10 + b"A" * 26 + b"a" * 27,
)

# Markings are matched on the lower-cased text, in windows around cheap substring hints, so
# that long prompts that never mention them cost a few `str.find` calls.
_MARKINGS = re.compile(
    # Every marking but the line-start one begins a word: the first look-behind and look-ahead
    # fail fast inside words and between them, so the alternatives are tried at word starts
    # only (five times fewer tries; each alternative keeps its own exact boundary).
    r"(?<![a-z0-9_])(?=[a-z])(?:"
    r"\b(?:strictly|highly|company|business|commercially)[ -]confidential\b"
    r"|\b(?:proprietary|privileged) (?:and|&) confidential\b"
    r"|\bconfidential (?:and|&) (?:proprietary|privileged)\b"
    r"|\bconfidential(?: (?:memo|memorandum|draft|document|report|material)s?\b|:| ?— | - )"
    r"|\binternal (?:use|distribution) only\b|\bfor internal (?:use|distribution)\b"
    r"|\binternal only\b"
    # "do not forward WINDOW_UPDATE frames" is protocol prose; a marking ends or names the text.
    r"|\bdo not (?:distribute|forward|circulate|disclose|share|copy)"
    r"(?= *(?:$|[.,;:!)—-]|this|these|the (?:contents|document|information)|outside"
    r"|externally|further|without|to (?:third|any|external)|or ))"
    r"|\battorney[- ]client (?:privilege|privileged|communication)\b|\blegally privileged\b"
    # "a trade secret" is often a topic ("what is a trade secret?"); these forms are claims.
    r"|\b(?:our|company|contains?|containing|includes?|including|constitutes?|protected)"
    r" (?:\w+ )?trade secrets?\b|(?<!what )\b(?:is|are) (?:a |our )?trade secrets?\b"
    r"|\b(?:under|covered by|subject to|bound by) (?:an? |the |our |my |this )?(?:mutual )?"
    r"(?:nda|non-disclosure agreement)\b"
    r"|\bnot for (?:public |external )?(?:distribution|release|publication)\b"
    r"|\bunder embargo\b|\bembargoed until\b"
    r"|\brestricted distribution\b"
    r"|\bmaterial,? non-public information\b"
    r")|^[^\w\n]{0,4}confidential[ \t]*(?:$|[|\]\)])",
    re.MULTILINE,
)
_CASED_MARKINGS = re.compile(r"\b(?:CONFIDENTIAL|TOP SECRET|MNPI|NDA-protected)\b")
_MARKING_HINTS: Final = (
    *("confidential", "internal", "do not", "privilege", "secret", "nda", "non-"),
    *("not for", "embargo", "restricted", "mnpi"),
)


def find_markings(text: str, lowered: str, shape: bytes) -> Iterator[Hit]:
    """Confidentiality markings: "CONFIDENTIAL", "internal use only", "under NDA"..."""
    windows: list[tuple[int, int]] = []
    for hint in _MARKING_HINTS:
        pos = lowered.find(hint)
        while pos != -1:
            windows.append((max(0, pos - 48), pos + 64))
            pos = lowered.find(hint, pos + 1)
    for start, end in _merged(windows):
        for match in _MARKINGS.finditer(lowered, start, end):
            if "internal" in match.group() and _in_code(lowered, match.start()):
                continue
            yield "confidential_marker", match.start(), match.end()
        for match in _CASED_MARKINGS.finditer(text, start, end):
            yield "confidential_marker", match.start(), match.end()


# An indented or commented line, or one that talks about an API, is code.
_CODE_LINE = re.compile(
    r"^(?:[ \t]{4,}|[ \t]*(?:#|//|/?\*|--))"
    r"|\b(?:api|parameter|function|method|attribute|argument|private)\b",
    re.MULTILINE,
)


def _in_code(lowered: str, start: int) -> bool:
    """A docstring or comment saying a function is "for internal use only" marks an API."""
    line_start = lowered.rfind("\n", 0, start) + 1
    return bool(_CODE_LINE.search(lowered, line_start, start))


def _merged(windows: Iterable[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    current: tuple[int, int] | None = None
    for start, end in sorted(windows):
        if current and start <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current:
            yield current
        current = (start, end)
    if current:
        yield current


# Secrets first: where a key also looks like a phone number or an e-mail, it is a key.
_DETECTORS: Final[tuple[FindHits, ...]] = (
    _secrets.find_private_keys,
    _secrets.find_jwts,
    _secrets.find_webhooks,
    _secrets.find_connection_strings,
    _secrets.find_service_accounts,
    _secrets.find_prefixed_keys,
    _secrets.find_aws_secrets,
    _secrets.find_assigned_secrets,
    _pii.find_ibans,
    _pii.find_emails,
    _pii.find_ipv4,
    _pii.find_ipv6,
    _pii.find_numbers,
    _pii.find_separated_cards,
    find_markings,
)
