"""Personal data without a fixed format: a named person together with personal details.

A card number is sensitive on its own; "born 12 March 1984" or "diagnosed with diabetes" is
sensitive when it is about someone identifiable. Each kind pairs a context cue with a person's
name in the same paragraph, at most `_REACH` characters from the cue:

- ``person_birth_date``: "born", "date of birth", "DOB" followed by a date or year;
- ``person_address``: a street address ("14 Elm Street", "Hauptstraße 5", "12 rue ...") or a
  postcode, or "lives at" / "home address" followed by a number;
- ``person_health``: a diagnosis, condition, medication or treatment, or "patient <Name>";
- ``person_hr``: salary, performance review, disciplinary, dismissal, sick leave, visa...;
- ``person_financial``: account balance, debt, arrears, credit score, loan, mortgage...;
- ``person_government_id``: a passport, driving licence, national insurance, tax or social
  security number, where an ID-like value (five digits or more) follows the cue.

A name is a title or role cue followed by capitalised words ("Mr. Okafor", "employee Dana
Reyes"), a ``Name:`` field, or a first name from a shipped list (~9,500 names generated from
Faker's person providers, MIT licence; see `bench/make_first_names.py`), alone or with a
capitalised surname. Names that are also common words ("May", "Will") are not in the list.

Hard negatives and what keeps them out:

- public figures: a public-role word ("president", "novelist", "Nobel") near the name;
- fiction: a text that says it is a story, a novel, a poem, or talks about its characters;
- history: a birth year before `_HISTORY_BEFORE`;
- code: identifiers such as ``birth_date`` are not cues, and contexts need values (a date);
- questions without a person ("how do I treat a cold?", "what should our sick leave policy
  say?") and directions ("turn left on Main Street") have no name next to the cue.

Cues are searched first over the lower-cased text, names only in the windows around them, so
a text without cues costs one regex scan per kind. Only counts leave, never a name or value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache
from importlib import resources
from typing import Final

from router.classify.sensitivity import ExtraDetector, Hit
from router.classify.types import Sensitivity

_REACH: Final = 160  # characters either side of a cue where the person's name may stand
_HISTORY_BEFORE: Final = 1930  # people born before this are history, not personal data

# --- names --------------------------------------------------------------------------------

_UP = "A-ZÀ-ÖØ-Þ"
_LOW = "a-zà-öø-ÿ"
_NAME = rf"[{_UP}][{_LOW}]+(?:[{_UP}][{_LOW}]+)?(?:[-'\u2019][{_UP}]?[{_LOW}]+)?"
_INITIAL = rf"[{_UP}]\."
_HONORIFIC = re.compile(
    rf"\b(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Sr|Sra|Herr|Frau|Mme|Mlle|Dott)\.?[ \t]+"
    rf"(?:{_INITIAL}[ \t]*)?(?P<name>{_NAME})"
)
_ROLES = (
    "patient|employee|colleague|co-?worker|staff member|team member|client|customer|tenant"
    "|applicant|candidate|claimant|resident|student|pupil|worker|contractor|intern|trainee"
    "|new hire|hire|manager|supervisor|subordinate|direct report|report|nurse|caregiver"
    "|borrower|debtor|account holder|member|user|guest|passenger|visitor|volunteer"
    "|my (?:wife|husband|son|daughter|mother|father|mom|mum|dad|brother|sister|partner"
    "|friend|neighbou?r|boss|grandmother|grandfather|uncle|aunt|cousin)"
)
_ROLE_NAME = re.compile(
    rf"\b(?i:{_ROLES})\b,?[ \t]+(?:{_INITIAL}[ \t]*)?(?P<name>{_NAME})(?P<more>[ \t]+{_NAME})?"
)
_FIELD_NAME = re.compile(
    r"\b(?i:(?:full |patient |employee |customer |client |legal |account holder )?name)"
    r"[ \t]*[:=][ \t]*[\"']?(?P<name>[A-Z][A-Za-z'\u2019-]+)"
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_CAPITALISED = re.compile(rf"(?<![\w.])(?P<name>{_NAME})(?P<more>[ \t]+{_NAME})?")
# Capitalised words that follow a role word in headings and product names, not names.
_NOT_NAMES: Final = _words(
    """
    service services support portal handbook information info record records care
    success relations experience data account accounts loan loans number id name names
    benefits assistance engagement satisfaction feedback journey management manager
    safety health privacy rights and the of for on in at to with is was has had policy
    policies guide agreement contract file files profile profiles list lists table form
    forms id portal story stories day days week month year
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
def _first_names() -> frozenset[str]:
    """The shipped first-name list, read once on first use."""
    text = resources.files("router.classify").joinpath("data/first_names.txt").read_text(
        encoding="utf-8"
    )
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def _names_in(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Spans of the person names between `start` and `end` of `text`."""
    for match in _HONORIFIC.finditer(text, start, end):
        yield match.start(), match.end()
    for match in _ROLE_NAME.finditer(text, start, end):
        name = match.group("name")
        if name.lower() in _NOT_NAMES or _street_follows(match):
            continue
        # A capitalised role word followed by one capitalised word is often a heading
        # ("Customer Service"); take it when the word is a known name or a surname follows.
        heading = match.group()[0].isupper() and not match.group("more")
        if heading and name.lower() not in _first_names():
            continue
        yield match.start("name"), match.end()
    for match in _FIELD_NAME.finditer(text, start, end):
        yield match.start("name"), match.end()
    names = _first_names()
    for match in _CAPITALISED.finditer(text, start, end):
        if match.group("name").lower() in names and not _street_follows(match):
            yield match.start(), match.end()


def _street_follows(match: re.Match[str]) -> bool:
    more = match.group("more")
    return more is not None and more.strip().lower() in _STREET_WORDS


# --- what keeps a name out -------------------------------------------------------------------

_PUBLIC_ROLE = re.compile(
    r"\b(?:president|prime minister|senator|congress(?:man|woman)|governor|mayor of|king|queen"
    r"|prince|princess|emperor|empress|pope|pharaoh|author|novelist|poet|playwright|composer"
    r"|singer|songwriter|rapper|actor|actress|film director|painter|sculptor|physicist|chemist"
    r"|mathematician|philosopher|scientist|inventor|explorer|astronaut|footballer|athlete"
    r"|olympic|champion|celebrity|famous|biography|biographer|wikipedia|nobel|oscar|grammy"
    r"|founder of|co-?founder|billionaire|politician|chancellor|general of|dictator|saint"
    r"|historian|historical|centur(?:y|ies)|dynasty|reign)\b"
)
_FICTION = re.compile(
    r"\b(?:(?:short|a|the|bedtime|love|detective|ghost|this|my) stor(?:y|ies)|fictional|fiction"
    r"|(?:a|my|the|this|her|his|our) novel\b(?! (?:treatment|therapy|approach|method|drug))"
    r"|novella|characters?\b(?! (?:limit|set|encoding|count|class))|protagonist|antagonist"
    r"|screenplay|poem|sonnet|limerick|haiku|fairy tale|fable|once upon a time|chapter \d"
    r"|role-?play|dungeon master|plot twist|fan ?fic)"
)


def _paragraph(lowered: str, start: int, end: int) -> tuple[int, int]:
    """The window around a cue, cut at paragraph breaks."""
    low = max(0, start - _REACH)
    high = min(len(lowered), end + _REACH)
    cut = lowered.rfind("\n\n", low, start)
    if cut != -1:
        low = cut + 2
    cut = lowered.find("\n\n", end, high)
    if cut != -1:
        high = cut
    return low, high


def _about_a_person(text: str, lowered: str, start: int, end: int) -> bool:
    """True when a private person's name stands near the cue at `start`..`end`."""
    low, high = _paragraph(lowered, start, end)
    if _PUBLIC_ROLE.search(lowered, low, high):
        return False
    for name_start, name_end in _names_in(text, low, high):
        if name_end <= start or name_start >= end:  # the cue itself is no name
            return True
    return False


# --- contexts ---------------------------------------------------------------------------------

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = (
    r"(?:\d{1,2}[/.-]\d{1,2}[/.-](?P<y1>\d{4}|\d{2})|(?P<y2>\d{4})-\d{1,2}-\d{1,2}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?(?: of)? {_MONTH},? (?P<y3>\d{{4}})"
    rf"|{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?,? (?P<y4>\d{{4}})|(?:in )?(?P<y5>(?:19|20)\d\d)\b)"
)
_BIRTH = re.compile(
    r"\b(?:born|date of birth|d\.o\.b\.?|dob|birth ?date|birthday)\b"
    rf"(?: (?:is|was|on|in|of))?[ \t]*[:,(-]?[ \t]*{_DATE}"
)
_STREET = (
    r"street|st|road|rd|avenue|ave|lane|ln|drive|boulevard|blvd|way|court|ct|place|terrace"
    r"|close|crescent|square|sq|parkway|pkwy|highway|hwy|row|gardens|grove|mews|walk|circle|cir"
)
_ADDRESS = re.compile(
    rf"\b\d{{1,5}}[a-z]?,? (?:[a-z'\u2019.-]+ ){{1,3}}(?:{_STREET})\b\.?"
    r"|\b[a-zäöüß-]+(?:straße|strasse|weg|platz|gasse|allee|laan|gracht|vej|gatan) \d{1,4}\b"
    r"|\b\d{1,4},? (?:rue|avenue|boulevard|bd|chemin|allée|impasse|via|viale|piazza|calle"
    r"|avenida|rua) [a-zà-ÿ]"
    r"|\b(?:calle|avenida|rua|via) [a-zà-ÿ ]{3,30} \d{1,4}\b"
    r"|\b(?:lives|living|resides|residing|moved|relocated) (?:at|to) (?:no\.? )?\d"
    r"|\b(?:home|postal|mailing|residential|current) address\b(?: is)?[ \t]*:?[ \t]*\S*\d"
    r"|\b(?:apt|apartment|flat|suite|unit) #?\d{1,5}\b"
    r"|\b[a-z]{1,2}\d[a-z\d]? \d[a-z]{2}\b"  # a UK postcode
)
_HEALTH = re.compile(
    r"\b(?:diagnos(?:ed|is|es)|prescri(?:bed|ption)|medication|taking \d+ ?mg|\d+ ?mg\b"
    r"|treated for|treatment for|undergoing|chemo(?:therapy)?|radiotherapy|dialysis"
    r"|surgery|hospitali[sz]ed|admitted to (?:hospital|the ward|icu|a&e|the er)"
    r"|discharged from|suffers from|suffering from|medical (?:history|record|condition|leave)"
    r"|diabet(?:es|ic)|cancer|tumou?r|leuka?emia|lymphoma|hiv\b|hepatitis|asthma|copd"
    r"|epilep(?:sy|tic)|seizures?|dementia|alzheimer|parkinson|multiple sclerosis"
    r"|depress(?:ion|ive)|anxiety disorder|panic attacks|ptsd|bipolar|schizophreni[ac]"
    r"|adhd|autis(?:m|tic)|anorexia|bulimia|pregnan(?:t|cy)|miscarriage|hypertension"
    r"|stroke|heart (?:attack|failure|condition)|tuberculosis|chlamydia|overdose|addiction"
    r"|alcoholism|rehab|psychiatric|antidepressants?|insulin|metformin|sertraline|fluoxetine"
    r"|lithium|methotrexate|biopsy|mri scan|allergic to|blood pressure|physiotherapy"
    r"|therapy sessions|in remission|terminal(?:ly)? ill|symptoms)"
)
_PATIENT = re.compile(r"\bpatient\b")
_HR = re.compile(
    r"\b(?:salary|salaries|pay rise|pay raise|raise of|pay cut|bonus|compensation package"
    r"|earns \$|paid \$|performance review|performance rating|appraisal"
    r"|performance improvement plan|pip\b|underperform(?:ing|ance)?|disciplinary"
    r"|(?:written|verbal|final) warning|gross misconduct|misconduct|dismiss(?:ed|al)"
    r"|fired|terminat(?:ed|ion)|let go|laid off|layoffs?|redundan(?:t|cy)"
    r"|notice period|sick (?:leave|days|note)|off sick|absence record|absenteeism"
    r"|maternity leave|paternity leave|parental leave|grievance|harassment complaint"
    r"|complaint against|background check|visa|work permit|immigration status|h-?1b"
    r"|green card|residence permit|right to work|probation(?:ary)? period|exit interview"
    r"|demot(?:ed|ion)|pay grade|payroll)"
)
_FINANCIAL = re.compile(
    r"\b(?:account balance|balance of|bank balance|overdra(?:ft|wn)|debts?\b|indebted|owes"
    r"|owed|arrears|credit score|credit rating|credit report|credit card bill|loan|mortgage"
    r"|bankrupt(?:cy)?|insolven(?:t|cy)|default(?:ed)? on|missed (?:\w+ )?payments?"
    r"|collections? agency|debt collector|repossess(?:ed|ion)|net worth|savings of"
    r"|account number|sort code|routing number|in the red)"
)
_GOVERNMENT_ID = re.compile(
    r"\b(?:passport|driver'?s licen[cs]e|driving licen[cs]e|national insurance|ni number"
    r"|nino|tax (?:id|identification|file|reference|code)|\btin\b|social security"
    r"|national id|id card|identity card|identity number|residence permit number"
    r"|personnummer|codice fiscale|nif\b|dni\b|aadhaar|pan card|medicare number|nhs number"
    r"|health card number|sin number|citizen (?:id|number)|voter id)"
)
_ID_VALUE = re.compile(r"[a-z0-9](?:[ -]?[a-z0-9]){5,19}")


def _birth_is_recent(match: re.Match[str]) -> bool:
    year = next((y for y in match.group("y1", "y2", "y3", "y4", "y5") if y), None)
    return year is None or len(year) != 4 or int(year) >= _HISTORY_BEFORE


def _has_id_value(lowered: str, match: re.Match[str]) -> bool:
    for value in _ID_VALUE.finditer(lowered, match.end(), match.end() + 48):
        if sum(c.isdigit() for c in value.group()) >= 5:
            return True
    return False


def _detector(
    kind: str, cue: re.Pattern[str], accept: Callable[[str, re.Match[str]], bool] | None = None
) -> ExtraDetector:
    def find(text: str, lowered: str, shape: bytes) -> Iterator[Hit]:
        fiction: bool | None = None
        for match in cue.finditer(lowered):
            if accept is not None and not accept(lowered, match):
                continue
            if fiction is None:
                fiction = _FICTION.search(lowered) is not None
            if fiction:
                return
            if _about_a_person(text, lowered, match.start(), match.end()):
                yield kind, match.start(), match.end()

    return ExtraDetector(kind=kind, level=Sensitivity.PII, find=find)


def _find_patients(text: str, lowered: str, shape: bytes) -> Iterator[Hit]:
    """ "Patient <Name>": naming someone as a patient is health data in itself."""
    if "patient" not in lowered:
        return
    for match in _PATIENT.finditer(lowered):
        named = _ROLE_NAME.match(text, match.start())
        if not named or named.group("name").lower() in _NOT_NAMES:
            continue
        window = _paragraph(lowered, match.start(), match.end())
        if _FICTION.search(lowered) is None and not _PUBLIC_ROLE.search(lowered, *window):
            yield "person_health", match.start(), match.end()


PERSONAL_DATA_DETECTORS: Final[tuple[ExtraDetector, ...]] = (
    _detector("person_birth_date", _BIRTH, lambda _, m: _birth_is_recent(m)),
    _detector("person_address", _ADDRESS),
    _detector("person_government_id", _GOVERNMENT_ID, _has_id_value),
    _detector("person_health", _HEALTH),
    ExtraDetector(kind="person_health", level=Sensitivity.PII, find=_find_patients),
    _detector("person_hr", _HR),
    _detector("person_financial", _FINANCIAL),
)
"""One detector per kind (two for health), all at level pii; see the module docstring."""
