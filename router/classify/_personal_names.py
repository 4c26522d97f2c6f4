"""Person names for `_personal`: who a context cue ("diagnosed", "salary") may be about.

A name is a capitalised word that is a known first name (a shipped list of ~10,000, generated
from Faker's person providers, MIT licence, by `bench/make_first_names.py`; names that are
also common words, such as "May" or "Will", are left out), or one that follows a title ("Mr.
Okafor"), a role ("employee Dana Reyes", "my wife Anja") or a ``Name:`` field. A capitalised
role word before a single capitalised word reads as a heading ("Customer Portal"), not a name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Final

_UP = "A-ZÀ-ÖØ-Þ"
_LOW = "a-zà-öø-ÿ"
NAME = rf"[{_UP}][{_LOW}]+(?:[{_UP}][{_LOW}]+)?(?:[-'\u2019][{_UP}]?[{_LOW}]+)?"
# Each capitalised word is tried on its own ("Grandpa Arthur Jenkins" holds "Arthur").
_CAPITALISED = re.compile(rf"(?<![\w.])(?P<name>{NAME})(?=(?P<more>[ \t]+{NAME})?)")
# The one or two words before a capitalised word, past an initial ("Mr. J. Smith"), read
# backwards from the word: an anchored match on the reversed text is far cheaper than a
# search that must end at the word.
_BEFORE_REVERSED = re.compile(
    rf"(?:[ \t]*\.[{_UP}])?[ \t]*[\"']?[ \t]*(?P<sep>[:=])?[ \t]*[.,]?(?P<last>[A-Za-z-]+)"
    r"(?:[ \t]+(?P<first>[A-Za-z-]+))?"
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_HONORIFICS: Final = _words("Mr Mrs Ms Mx Miss Dr Prof Sr Sra Herr Frau Mme Mlle Dott")
_ROLES: Final = _words(
    """
    patient employee colleague coworker co-worker client customer tenant applicant
    candidate claimant resident student pupil worker contractor intern trainee hire
    manager supervisor subordinate report nurse caregiver borrower debtor member user
    guest passenger traveller traveler visitor volunteer engineer developer analyst
    accountant teacher driver cashier officer agent consultant assistant clerk technician
    designer dear hi hello hey grandpa grandma granny grandad
    """
)
_ROLE_PAIRS: Final = _words(
    """
    my/wife my/husband my/son my/daughter my/mother my/father my/mom my/mum my/dad
    my/brother my/sister my/partner my/friend my/neighbour my/neighbor my/boss
    my/grandmother my/grandfather my/uncle my/aunt my/cousin staff/member team/member
    direct/report new/hire account/holder
    """
)
_FIELDS: Final = _words("name fullname patient employee customer client holder")
_GREETINGS: Final = _words("dear hi hello hey")  # capitalised by nature, never headings
# Capitalised words that follow a role word in headings and product names, not names.
NOT_NAMES: Final = _words(
    """
    service services support portal handbook information info record records care
    success relations experience data account accounts loan loans number id name names
    benefits assistance engagement satisfaction feedback journey management manager
    safety health privacy rights and the of for on in at to with is was has had policy
    policies guide agreement contract file files profile profiles list lists table form
    forms story stories day days week month year team all everyone there folks sir madam
    """
)
_STREET_WORDS: Final = _words(
    """
    street st road rd avenue ave lane ln drive dr boulevard blvd way court ct place pl
    terrace close crescent square sq park hill hospital clinic school university college
    station airport centre center county city bridge river
    """
)


@cache
def first_names() -> frozenset[str]:
    """The shipped first-name list, read once on first use."""
    text = resources.files("router.classify").joinpath("data/first_names.txt").read_text(
        encoding="utf-8"
    )
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def names_in(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Spans of the person names between `start` and `end` of `text`."""
    names = first_names()
    for match in _CAPITALISED.finditer(text, start, end):
        word = match.group("name")
        folded = word.lower()
        more = match.group("more")
        if more is not None and more.strip().lower() in _STREET_WORDS:
            continue  # "Victoria Road", "Maria Street": a place
        if folded in names:
            yield match.start(), match.end()
            continue
        if folded in NOT_NAMES:
            continue
        before = _BEFORE_REVERSED.match(text[max(start, match.start() - 32):match.start()][::-1])
        if before is None:
            continue
        last = before.group("last")[::-1]
        if last in _HONORIFICS:
            yield match.start(), match.end()
            continue
        lowered_last = last.lower()
        if before.group("sep"):  # "Name: Okafor"
            if lowered_last in _FIELDS:
                yield match.start(), match.end()
            continue
        pair = f"{(before.group('first') or '')[::-1].lower()}/{lowered_last}"
        if lowered_last in _ROLES or pair in _ROLE_PAIRS:
            # A capitalised role word and one capitalised word is often a heading
            # ("Customer Portal"); a name needs a surname after it there.
            heading = last[0].isupper() and lowered_last not in _GREETINGS
            if heading and more is None and pair not in _ROLE_PAIRS:
                continue
            yield match.start(), match.end()
