"""Personal data without a fixed format: a named person together with personal details.

A card number is sensitive on its own; "born 12 March 1984" or "diagnosed with diabetes" is
sensitive when it is about someone identifiable. Each kind pairs a context cue with a person's
name (`_personal_names`) in the same paragraph, at most `_REACH` characters from the cue:

- ``person_birth_date``: "born", "date of birth", "DOB" followed by a date or year;
- ``person_address``: a street address ("14 Elm Street", "Hauptstraße 5", "12 rue ..."),
  "lives at" / "home address" followed by a number, or an apartment number;
- ``person_health``: a diagnosis, condition, medication or treatment, or "patient <Name>";
- ``person_hr``: salary, performance review, disciplinary, dismissal, sick leave, visa...;
- ``person_financial``: account balance, debt, arrears, credit score, loan, mortgage...;
- ``person_government_id``: a passport, driving licence, national insurance, tax or social
  security number, where an ID-like value (five digits or more) follows the cue.

Hard negatives and what keeps them out:

- public figures: a public-role word ("president", "novelist", "Nobel") near the cue;
- fiction: a text that says it is a story, a novel, a poem, or talks about its characters;
- history: a birth year before `_HISTORY_BEFORE`;
- code: identifiers such as ``birth_date`` are not cues, and contexts need values (a date);
- questions without a person ("how do I treat a cold?", "what should our sick leave policy
  say?") and directions ("turn left on Main Street") have no name next to the cue.

Cost: a text is split into words once; a cue's regex is tried anchored where the words it
needs occur, never scanned along the text, and names are looked for only around cues, so a
text without cues costs one ``split`` and a few substring searches. The six detectors share
one analysis per text (`_Memo`), which keeps offsets and kinds, never text. Only counts leave
`scan_text`, never a name or a value.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from router.classify._personal_names import NAME, NOT_NAMES, first_names, names_in
from router.classify.sensitivity import ExtraDetector, Hit
from router.classify.types import Sensitivity

_REACH: Final = 160  # characters either side of a cue where the person's name may stand
_HISTORY_BEFORE: Final = 1930  # people born before this are history, not personal data
_SPACES: Final = str.maketrans(string.punctuation, " " * len(string.punctuation))


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


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
# Every alternative starts at its word (see `_near`); the word before, where it matters, is a
# fixed-width lookbehind.
_FICTION = re.compile(
    r"\b(?:(?:(?<=short )|(?<=a )|(?<=the )|(?<=bedtime )|(?<=love )|(?<=detective )"
    r"|(?<=ghost )|(?<=this )|(?<=my ))stor(?:y|ies)|fictional|fiction"
    r"|(?:(?<=a )|(?<=my )|(?<=the )|(?<=this )|(?<=her )|(?<=his )|(?<=our ))novel\b"
    r"(?! (?:treatment|therapy|approach|method|drug))"
    r"|novella|characters?\b(?! (?:limit|set|encoding|count|class))|protagonist|antagonist"
    r"|screenplay|poem|sonnet|limerick|haiku|fairy tale|fable|once upon a time|chapter \d"
    r"|role-?play|dungeon master|plot twist|(?<=the )plot|plot of|fan ?fic|episode|sitcom"
    r"|tv (?:show|series)|(?<=the )(?:film|movie)|movie)"
)
_PUBLIC_WORDS: Final = _words(
    """
    president prime senator congressman congresswoman governor mayor king queen prince
    princess emperor empress pope pharaoh author novelist poet playwright composer singer
    songwriter rapper actor actress film painter sculptor physicist chemist mathematician
    philosopher scientist inventor explorer astronaut footballer athlete olympic champion
    celebrity famous biography biographer wikipedia nobel oscar grammy founder cofounder co
    billionaire politician chancellor general dictator saint historian historical century
    centuries dynasty reign
    """
)
_FICTION_WORDS: Final = _words(
    """
    story stories fictional fiction novel novella character characters protagonist
    antagonist screenplay poem sonnet limerick haiku fairy fable once chapter roleplay role
    dungeon plot fanfic fan episode sitcom tv film movie
    """
)



# --- contexts -------------------------------------------------------------------------------

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = (
    r"(?:\d{1,2}[/.-]\d{1,2}[/.-](?P<y1>\d{4}|\d{2})|(?P<y2>\d{4})-\d{1,2}-\d{1,2}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?(?: of)? {_MONTH},? (?P<y3>\d{{4}})"
    rf"|{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?,? (?P<y4>\d{{4}})|(?:in )?(?P<y5>(?:19|20)\d\d)\b)"
)
_BIRTH = re.compile(
    r"\b(?:born|date of birth|d\.o\.b\.?|dob|birth ?date|birthday)\b"
    rf"(?: (?:is|was|on|in|of))?[ \t]*[:,(.-]?[ \t]*{_DATE}"
)
_STREET = (
    r"street|st|road|rd|avenue|ave|lane|ln|drive|boulevard|blvd|way|court|ct|place|terrace"
    r"|close|crescent|square|sq|parkway|pkwy|highway|hwy|row|gardens|grove|mews|walk|circle|cir"
)
_ADDRESS = re.compile(
    rf"\b\d{{1,5}}[a-z]?,? (?:[a-z'\u2019.-]+ ){{1,3}}(?:{_STREET})\b\.?"
    r"|\b[a-zäöüß-]+(?:straße|strasse|weg) \d{1,4}\b"
    r"|\b\d{1,4},? (?:rue|avenue|boulevard|bd|chemin|allée|impasse|via|viale|piazza|calle"
    r"|avenida|rua) [a-zà-ÿ]"
    r"|\b(?:calle|avenida|rua|via) [a-zà-ÿ ]{3,30} \d{1,4}\b"
    r"|\b(?:lives|living|resides|residing|moved|relocated) (?:at|to) (?:no\.? )?\d"
    r"|\b(?:home|postal|mailing|residential|current) address\b(?: is)?[ \t]*:?[ \t]*\S*\d"
    r"|\b(?:apt|apartment|flat|suite|unit) #?\d{1,5}\b"
)
_HEALTH = re.compile(
    r"(?<=\d)mg\b|(?<=\d )mg\b"  # "50mg", "50 mg": the dose, tried at "mg" (see `_near`)
    r"|\b(?:diagnos(?:ed|is|es)|prescri(?:bed|ption)|medication|taking \d+ ?mg"
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
    r"|therapy sessions|remission|terminal(?:ly)? ill|symptoms)"
)
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
    r"|account number|sort code|routing number)"
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


@dataclass(frozen=True, slots=True)
class _Cue:
    """A context cue: `pattern`, tried where one of its `words` (or `hints`) occurs."""

    kind: str
    pattern: re.Pattern[str]
    words: frozenset[str]
    # Substrings for what splitting into words breaks ("50mg", "Hauptstraße"), each looked for
    # only when its gate word (if any) is among the text's words: a search costs ~4 us.
    hints: tuple[tuple[str, str | None], ...] = ()
    accept: Callable[[str, re.Match[str]], bool] | None = None
    look_back: bool = False  # a match may start a few words before its word ("22 Elm Street")

    def spans(self, lowered: str, words: frozenset[str]) -> list[tuple[int, int]]:
        found = []
        hints = [hint for hint, gate in self.hints if gate is None or gate in words]
        matches = _near(self.pattern, lowered, words & self.words, hints, self.look_back)
        for match in matches:
            if self.accept is None or self.accept(lowered, match):
                found.append((match.start(), match.end()))
        return found


def _near(
    pattern: re.Pattern[str],
    lowered: str,
    words: Iterable[str],
    hints: Iterable[str] = (),
    look_back: bool = False,
) -> Iterator[re.Match[str]]:
    """Matches of `pattern` that start at one of the whole `words` or substrings `hints`.

    The pattern is tried anchored at each occurrence (and, with `look_back`, at the starts
    of the words just before it), never scanned across the text: a large alternation tried
    at every position costs ~60 ns a character in `re`.
    """
    seen: set[int] = set()
    for needle, whole in (*((w, True) for w in words), *((h, False) for h in hints)):
        pos = lowered.find(needle)
        while pos != -1:
            end = pos + len(needle)
            if not whole or (
                (pos == 0 or not lowered[pos - 1].isalnum())
                and (end == len(lowered) or not lowered[end].isalnum())
            ):
                match = pattern.match(lowered, pos)
                if match is None and look_back:
                    match = _ending_after(pattern, lowered, pos)
                if match is not None and match.start() not in seen:
                    seen.add(match.start())
                    yield match
            pos = lowered.find(needle, pos + 1)


_WORD_START = re.compile(r"\b\w")
_LOOK_BACK: Final = 48  # how far before its word or hint a cue may start


def _ending_after(pattern: re.Pattern[str], lowered: str, pos: int) -> re.Match[str] | None:
    """A match that starts at one of the words just before `pos` and runs past it."""
    starts = [m.start() for m in _WORD_START.finditer(lowered, max(0, pos - _LOOK_BACK), pos)]
    for start in starts:  # the earliest first, so the longest match wins
        match = pattern.match(lowered, start)
        if match is not None and match.end() > pos:
            return match
    return None


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


_PATIENT = re.compile(rf"\b(?i:patient),?[ \t]+(?P<name>{NAME})(?P<more>[ \t]+{NAME})?")


def _patients(text: str, lowered: str, words: frozenset[str]) -> list[tuple[int, int]]:
    """ "Patient <Name>": naming someone as a patient is health data in itself."""
    if "patient" not in words:
        return []
    spans = []
    pos = lowered.find("patient")
    while pos != -1:
        named = _PATIENT.match(text, pos)
        if named and named.group("name").lower() not in NOT_NAMES and (
            named.group("more")
            or not text[pos].isupper()  # "Patient Portal" is a heading
            or named.group("name").lower() in first_names()
        ):
            spans.append((pos, pos + len("patient")))
        pos = lowered.find("patient", pos + 1)
    return spans


_Analysis = Mapping[str, tuple[tuple[int, int], ...]]


def _analyse(text: str, lowered: str) -> _Analysis:
    """The spans of every personal-data cue that stands near a private person's name."""
    words = frozenset(lowered.translate(_SPACES).split())
    cues: list[tuple[str, tuple[int, int], bool]] = []  # kind, span, the span is the name
    for cue in _CUES:
        cues.extend((cue.kind, span, False) for span in cue.spans(lowered, words))
    cues.extend(("person_health", span, True) for span in _patients(text, lowered, words))
    if not cues or next(_near(_FICTION, lowered, words & _FICTION_WORDS), None):
        return {}
    public = [m.start() for m in _near(_PUBLIC_ROLE, lowered, words & _PUBLIC_WORDS)]
    found: dict[str, list[tuple[int, int]]] = {}
    known: list[tuple[int, int]] = []  # names found for earlier cues, often near the next
    for kind, (start, end), named in cues:
        low, high = _paragraph(lowered, start, end)
        if any(low <= pos < high for pos in public):
            continue
        if not named and not any(
            low <= a and b <= high and (b <= start or a >= end) for a, b in known
        ):
            # Stops at the first name: most cues stand next to one.
            names = (span for span in names_in(text, low, high)
                     if span[1] <= start or span[0] >= end)
            first = next(names, None)
            if first is None:
                continue
            known.append(first)
        found.setdefault(kind, []).append((start, end))
    return {kind: tuple(spans) for kind, spans in found.items()}


class _Memo:
    """The last text's analysis, so the six detectors share one pass over a text.

    Keyed by the identity and hash of the lower-cased text `scan_text` hands every detector,
    and the hash of the text; it holds offsets and kinds, never the text.
    """

    __slots__ = ("_entry",)

    def __init__(self) -> None:
        # One attribute, replaced whole, so a thread never reads one text's key with
        # another's spans. The key: id and hash of the lower-cased text, hash of the text.
        self._entry: tuple[tuple[int, int, int] | None, _Analysis] = (None, {})

    def spans(self, text: str, lowered: str, kind: str) -> tuple[tuple[int, int], ...]:
        # The text's own hash too: two texts that differ only in case share a lower-cased
        # form, and names are read from the text's capitals.
        key = (id(lowered), hash(lowered), hash(text))
        cached_key, analysis = self._entry
        if cached_key != key:
            analysis = _analyse(text, lowered)
            self._entry = (key, analysis)
        return analysis.get(kind, ())

    def forget(self) -> None:
        """Drop the last analysis (benchmarks call this so that every call does the work)."""
        self._entry = (None, {})


_MEMO: Final = _Memo()


def _detector(kind: str) -> ExtraDetector:
    def find(text: str, lowered: str, shape: bytes) -> Iterator[Hit]:
        for start, end in _MEMO.spans(text, lowered, kind):
            yield kind, start, end

    return ExtraDetector(kind=kind, level=Sensitivity.PII, find=find)


_CUES: Final = (
    _Cue("person_birth_date", _BIRTH, _words("born date birth dob birthdate birthday"),
         (("d.o.b", "b"),), lambda _, match: _birth_is_recent(match)),
    _Cue(
        "person_address", _ADDRESS,
        _words(
            """
            street st road rd avenue ave lane ln drive boulevard blvd way court ct place
            terrace close crescent square sq parkway pkwy highway hwy row gardens grove mews
            walk circle cir rue bd chemin allée impasse via viale piazza calle avenida rua
            lives living resides residing moved relocated address apt apartment flat suite
            unit
            """
        ),
        # The ends of words ("Hauptstraße", "Lindenweg")
        (("straße", None), ("strasse", None), ("weg ", None)),
        look_back=True,
    ),
    _Cue(
        "person_health", _HEALTH,
        _words(
            """
            diagnosed diagnosis diagnoses prescribed prescription medication taking treated
            treatment undergoing chemo chemotherapy radiotherapy dialysis surgery
            hospitalised hospitalized admitted discharged suffers suffering medical diabetes
            diabetic cancer tumour tumor leukemia leukaemia lymphoma hiv hepatitis asthma
            copd epilepsy epileptic seizure seizures dementia alzheimer parkinson multiple
            depression depressive anxiety panic ptsd bipolar schizophrenia schizophrenic
            adhd autism autistic anorexia bulimia pregnant pregnancy miscarriage
            hypertension stroke heart tuberculosis chlamydia overdose addiction alcoholism
            rehab psychiatric antidepressant antidepressants insulin metformin sertraline
            fluoxetine lithium methotrexate biopsy mri allergic blood physiotherapy therapy
            remission terminal terminally symptoms
            """
        ),
        (("mg", None),),  # "50mg" is one word
    ),
    _Cue(
        "person_hr", _HR,
        _words(
            """
            salary salaries pay raise bonus compensation earns paid performance appraisal pip
            underperform underperforming underperformance disciplinary written verbal final
            gross misconduct dismissed dismissal fired terminated termination let laid layoff
            layoffs redundant redundancy notice sick off absence absenteeism maternity
            paternity parental grievance harassment complaint background visa work
            immigration h1b green residence right probation probationary exit demoted
            demotion payroll
            """
        ),
        (("h-1b", "1b"),),
    ),
    _Cue(
        "person_financial", _FINANCIAL,
        _words(
            """
            account balance bank overdraft overdrawn debt debts indebted owes owed arrears
            credit loan loans mortgage mortgages bankrupt bankruptcy insolvent insolvency
            default defaulted missed collection collections repossessed repossession net
            savings sort routing
            """
        ),
    ),
    _Cue(
        "person_government_id", _GOVERNMENT_ID,
        _words(
            """
            passport passports driver driving national ni nino tax tin social id identity
            residence personnummer codice nif dni aadhaar pan medicare nhs health sin citizen
            voter
            """
        ),
        accept=_has_id_value,
    ),
)

KINDS: Final = (
    "person_birth_date", "person_address", "person_health", "person_hr", "person_financial",
    "person_government_id",
)
PERSONAL_DATA_DETECTORS: Final[tuple[ExtraDetector, ...]] = tuple(map(_detector, KINDS))
"""One detector per kind, all at level pii; see the module docstring."""
