"""Cheap lexical and structural features of one piece of request text.

Computed once per text and shared by the task scorer and the difficulty estimate. Words and
bigrams come from a window (the first 1,200 and last 600 characters): instructions sit at the
start or the end of a prompt, while the middle of a long one is usually pasted material.
Code fences and line counts cover the whole text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise
from typing import Final

_HEAD: Final = 1200
_TAIL: Final = 600

# Tokenising is `bytes.translate` + `split`, several times faster than a word regex: ASCII
# punctuation becomes a space, while letters, digits, "_", "-", "+" and "#" stay ("c++", "c#",
# "trade-offs"); non-ASCII bytes pass through, so other scripts stay intact.
_KEEP: Final = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+#"
_PUNCT_TO_SPACE: Final = bytes(b if b >= 128 or b in _KEEP else 32 for b in range(256))
# Digits become "0" and letters "a", so that arithmetic and numbers standing between words can
# be found with literal-led patterns.
_NUMBER_SHAPE: Final = bytes.maketrans(b"123456789abcdefghijklmnopqrstuvwxyz", b"0" * 9 + b"a" * 26)
# A number of up to six digits (decimals too) after a word and not followed by another group:
# "walk 7,000 steps" and "3 apples" count; "+1 212 555 0123" and "10.0.0.1" do not.
_STANDALONE_NUMBER = re.compile(rb" (?<=a )\$?0{1,6}(?:[.,]0+)*(?![0.,:/\-]| 0)")
_ARITHMETIC = re.compile(rb"0 ?(?:[+*/^=<>]|- ) ?[0(]")
_MATH_SYMBOLS: Final = ("√", "∫", "∑", "π", "≤", "≥", "≠", "±", "∞", "≈", "≡", "\u00d7", "÷")
_LATEX: Final = ("\\frac", "\\sum", "\\int", "\\sqrt", "\\lim", "\\cdot", "\\pi")
_NON_LATIN = re.compile(
    "[\u0370-\u03ff\u0400-\u04ff\u0590-\u05ff\u0600-\u06ff\u0900-\u097f"
    "\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]"
)
# "translate" in scripts written without spaces, which the tokeniser leaves inside longer runs.
_TRANSLATE_MARKERS: Final = ("翻译", "翻譯", "翻訳", "번역")
# Calls ("connect(", not "f(x)") and snake_case, each found from a literal so the scan is fast.
_CALL = re.compile(r"\((?<=\w\w\()")
_SNAKE_CASE = re.compile(r"_(?<=[a-z0-9]_)(?=[a-z])")
_LIST_ITEM = re.compile(r"\n[ \t]*(?:\d{1,2}[.)]|[-*•])[ \t]")
# Substrings that are far more common in code than in prose.
_CODE_TOKENS: Final = (
    ";\n",
    "{\n",
    "}\n",
    "()",
    "=>",
    "==",
    "->",
    "::",
    "</",
    "return ",
    "import ",
)


@dataclass(frozen=True, slots=True)
class TextFeatures:
    """What the task scorer and the difficulty estimate look at in one text."""

    chars: int
    words: frozenset[str]
    bigrams: frozenset[tuple[str, str]]
    word_count: int
    lines: int
    code_fences: int
    fenced_lines: int
    code_marks: int
    error_names: int
    math_marks: int
    non_latin_chars: int
    list_items: int
    questions: int
    numbers: int
    translate_marker: bool

    @property
    def mixed_scripts(self) -> bool:
        """Latin words next to another script: text to translate, or a translation to check."""
        return self.non_latin_chars >= 2 and self.word_count >= 3


EMPTY_FEATURES: Final = TextFeatures(
    chars=0,
    words=frozenset(),
    bigrams=frozenset(),
    word_count=0,
    lines=0,
    code_fences=0,
    fenced_lines=0,
    code_marks=0,
    error_names=0,
    math_marks=0,
    non_latin_chars=0,
    list_items=0,
    questions=0,
    numbers=0,
    translate_marker=False,
)


def text_features(text: str) -> TextFeatures:
    """Features of `text`; empty text gives `EMPTY_FEATURES`."""
    if not text:
        return EMPTY_FEATURES
    window = text if len(text) <= _HEAD + _TAIL else text[:_HEAD] + "\n" + text[-_TAIL:]
    encoded = window.lower().encode("utf-8", "replace")
    tokens = encoded.translate(_PUNCT_TO_SPACE).decode("utf-8", "replace").split()
    words = frozenset(tokens)
    shape = encoded.translate(_NUMBER_SHAPE)
    ascii_window = window.isascii()
    return TextFeatures(
        chars=len(text),
        words=words,
        bigrams=frozenset(pairwise(tokens)),
        word_count=len(tokens) if ascii_window else sum(1 for t in tokens if t.isascii()),
        lines=text.count("\n") + 1,
        code_fences=(text.count("```") + 1) // 2,
        fenced_lines=_fenced_lines(text),
        code_marks=sum(window.count(token) for token in _CODE_TOKENS)
        + len(_CALL.findall(window))
        + len(_SNAKE_CASE.findall(window))
        + _camel_case(window, words),
        error_names=window.count("Error") + window.count("Exception"),
        math_marks=_math_marks(window, shape, ascii_window),
        non_latin_chars=0 if ascii_window else len(_NON_LATIN.findall(window)),
        list_items=len(_LIST_ITEM.findall(window)),
        questions=window.count("?"),
        numbers=len(_STANDALONE_NUMBER.findall(shape)),
        translate_marker=not ascii_window and any(m in window for m in _TRANSLATE_MARKERS),
    )


def _math_marks(window: str, shape: bytes, ascii_window: bool) -> int:
    marks = window.count("^") + window.count("%")
    marks += len(_ARITHMETIC.findall(shape))
    if "\\" in window:
        marks += sum(window.count(command) for command in _LATEX)
    if not ascii_window:
        marks += sum(window.count(symbol) for symbol in _MATH_SYMBOLS)
    return marks


def _camel_case(window: str, words: frozenset[str]) -> int:
    """Identifiers such as useEffect or localStorage; only tokens with capitals are looked at."""
    encoded = window.encode("utf-8", "replace").translate(_PUNCT_TO_SPACE)
    cased = set(encoded.decode("utf-8", "replace").split())
    return sum(1 for t in cased - words if t[0].islower() and t.isalpha())


def _fenced_lines(text: str) -> int:
    parts = text.split("```")
    return sum(part.count("\n") for part in parts[1::2])
