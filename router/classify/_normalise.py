"""The normalised view of a text: what a reader sees, not how the characters were spelled.

A value can be disguised without changing how it looks: full-width digits (U+FF14 for "4"),
zero-width or other format characters between its characters, Cyrillic or Greek letters that
look like Latin ones ("CONFIDENTIAL" with a Cyrillic U+0421 for its "C"), or percent-encoding
("jane.doe%40example.com"). `normalised` undoes all of these in one pass: percent-decoding,
NFKC (full-width and other compatibility forms, odd spaces), then a translation that drops
format (Cf) and invisible characters and folds homoglyphs to the ASCII letter, digit or URL
punctuation they imitate, and digits of other scripts to ASCII digits. Homoglyphs come from
Unicode's confusables data as shipped by the ``confusable-homoglyphs`` package, loaded on
first use. NFKC and the translation run only on the runs of characters they would change
(found with one character class), which keeps ordinary non-ASCII text cheap; a text in
another script throughout takes one whole `str.translate` instead. A combining accent is left
alone, as no detector needs it. Percent-decoding runs twice at most ("%2540" is "@").

Folding applies to every character, so Cyrillic or Greek prose becomes partly Latin in this
view; the detectors need ASCII structure (an "@", digits with a checksum, marking phrases), so
such prose stays clean (the clean corpus test holds it to that).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
import unicodedata
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_PERCENT_PASSES: Final = 2

# Not format characters, but invisible all the same: combining grapheme joiner, Hangul fillers,
# variation selectors, the Braille blank.
_INVISIBLE: Final = frozenset(
    (0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800, *range(0xFE00, 0xFE10))
)
# Folding targets: what detectors key on. Other ASCII look-alikes (quotes, dashes, brackets)
# would only turn ordinary typography into punctuation.
_FOLD_TARGETS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@.:/-_"
)


def normalised(text: str) -> str | None:
    """The normalised copy of `text`, or ``None`` when it would equal `text`.

    An ASCII text without a percent-escape is its own normalised form, and costs one
    `str.isascii` and one `str.find`.
    """
    spelled = _spells_out_at(text)
    if text.isascii() and not spelled and ("%" not in text or not _PERCENT.search(text)):
        return None
    view = _SPELLED_AT.sub(_unspell, text) if spelled else text
    for _ in range(_PERCENT_PASSES):
        if "%" not in view or not _PERCENT.search(view):
            break
        view = urllib.parse.unquote(view, errors="replace")
    if not view.isascii():
        folding = _folding()
        view = folding.fold(view)
        if len(view.encode("utf-16-le", "surrogatepass")) > 2 * len(view):
            view = _ASTRAL_RUNS.sub(folding.fold_astral_run, view)
    return None if view == text else view


# "jane (at) example [dot] com": an address spelled out to get past a filter.
_SPELLED_AT = re.compile(r"\s*[(\[{<][ \t]*(at|dot)[ \t]*[)\]}>]\s*", re.IGNORECASE)
_AT_CLOSE = re.compile(r"at ?[)\]}>]")  # a literal prefix: the regex engine skips ahead


def _spells_out_at(text: str) -> bool:
    """Whether `text` holds "(at)", "[ at ]" or the like; a few microseconds for 8,000
    characters, since "format)" and "at]" are common in code and must not cost a full regex."""
    lowered = text.lower()
    for match in _AT_CLOSE.finditer(lowered):
        before = match.start() - 1
        if before >= 0 and lowered[before] == " ":
            before -= 1
        if before >= 0 and lowered[before] in "([{<":
            return True
    return False


def _unspell(match: re.Match[str]) -> str:
    return "@" if match.group(1).lower() == "at" else "."


_ASTRAL_RUNS = re.compile("[\U00010000-\U0010ffff]+")
# Past this many runs to fold, the text is in another script and one whole `str.translate`
# is cheaper than piecewise folding.
_DENSE_RUNS: Final = 64


@dataclass(frozen=True, slots=True)
class _Folding:
    """Which characters NFKC changes (`compat_runs`), and which it or `table` fold (`runs`).

    Both are bitmap character classes over the BMP. NFKC and `str.translate` over a whole
    non-ASCII text cost ~0.1 us a character (NFKC far more for CJK); running them only on
    the runs that need them keeps ordinary non-ASCII text cheap.
    """

    table: Mapping[int, int | None]
    # The BMP part of `table` as a list indexed by code point, identity where nothing folds:
    # `str.translate` looks a list up twice as fast as a dict (~2 MB, for whole texts).
    bmp_table: Sequence[int | None]
    compat_runs: re.Pattern[str]
    runs: re.Pattern[str]  # one capturing group, for `split`
    astral: frozenset[str]  # math letters, tag characters; not emoji

    def fold(self, view: str) -> str:
        parts = self.runs.split(view, maxsplit=_DENSE_RUNS)
        if len(parts) == 1:
            return view
        if len(parts) > 2 * _DENSE_RUNS:
            # Another script throughout: NFKC where it changes something, then one translate.
            # Astral characters are past the list: `normalised` folds them next.
            return self.compat_runs.sub(self._nfkc_run, view).translate(self.bmp_table)
        parts[1::2] = [unicodedata.normalize("NFKC", r).translate(self.table) for r in parts[1::2]]
        return "".join(parts)

    def fold_astral_run(self, match: re.Match[str]) -> str:
        run = match.group()
        if self.astral.isdisjoint(run):
            return run  # emoji
        return unicodedata.normalize("NFKC", run).translate(self.table)

    @staticmethod
    def _nfkc_run(match: re.Match[str]) -> str:
        return unicodedata.normalize("NFKC", match.group())


@functools.cache
def _folding() -> _Folding:
    """Built on first use (~0.1 s of CPU): Unicode's confusables, format characters, NFKC forms."""
    table: dict[int, int | None] = {}
    source = importlib.resources.files("confusable_homoglyphs") / "confusables.json"
    for char, homoglyphs in json.loads(source.read_text(encoding="utf-8")).items():
        # NFKC runs first, so only characters it leaves alone need folding.
        if len(char) != 1 or char.isascii() or unicodedata.normalize("NFKC", char) != char:
            continue
        targets = [h["c"] for h in homoglyphs if h["c"] in _FOLD_TARGETS]
        if targets:
            table[ord(char)] = ord(_best_target(char, targets))
    compat: set[int] = set()  # characters NFKC turns into something a detector keys on
    astral: set[str] = set()
    for code in (*range(0x80, 0x20000), *range(0xE0000, 0xE1000)):
        char = chr(code)
        category = unicodedata.category(char)
        if category == "Nd":
            # Digits of other scripts are digits: U+0664 U+0661 is 41 (NFKC keeps them).
            table[code] = ord("0") + unicodedata.decimal(char)
        elif category == "Cf" or code in _INVISIBLE:
            table[code] = None
        if not unicodedata.decomposition(char):
            continue  # NFKC leaves it alone
        # Full-width letters and digits, ligatures, circled digits, odd spaces, mathematical
        # letters; not CJK punctuation (U+FF0C is ","), so Chinese prose does not pay for it.
        form = unicodedata.normalize("NFKC", char)
        if form != char and any(c in _FOLD_TARGETS or c == " " for c in form):
            if code <= 0xFFFF:
                compat.add(code)
            else:
                astral.add(char)
    # The ideographic space is in every line of Japanese: it only joins two runs (U+FF14
    # U+3000 U+FF11 is a grouped number).
    compat.discard(0x3000)
    astral.update(chr(code) for code in table if code > 0xFFFF)
    compat_run = _char_class(compat)
    run = _char_class(compat | {code for code in table if code <= 0xFFFF})
    bmp_table: list[int | None] = list(range(0x10000))
    for code, target in table.items():
        if code <= 0xFFFF:
            bmp_table[code] = target
    return _Folding(
        table=table,
        bmp_table=bmp_table,
        compat_runs=re.compile(f"{compat_run}(?:\u3000+{compat_run})*"),
        runs=re.compile(f"({run}(?:\u3000+{run})*)"),
        astral=frozenset(astral),
    )


def _char_class(codes: Iterable[int]) -> str:
    """A ``[...]+`` class of merged ranges: all in the BMP, `re` compiles it to a bitmap."""
    ranges: list[list[int]] = []
    for code in sorted(codes):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    parts = (f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)
    return "[" + "".join(parts) + "]+"


def _best_target(char: str, targets: list[str]) -> str:
    """A capital stays a capital: Cyrillic U+0406 is "I", though Unicode's prototype is "l"."""
    if char.isupper():
        for target in targets:
            if target.isupper():
                return target
        if "l" in targets:
            return "I"
    if char.islower():
        for target in targets:
            if target.islower():
                return target
    for target in targets:
        if target.isalnum():
            return target
    return targets[0]
