"""The policy's sensitivity detectors, compiled: the organisation's own and the personal-data ones.

`build_detectors` turns the policy's ``sensitivity`` section into `ExtraDetector`s for
`scan_text`. Keywords match whole words (a keyword "Nimbus" does not match "Nimbuses"), and
the spaces inside a phrase match any run of whitespace, so a line break does not hide it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from router.classify._personal import PERSONAL_DATA_DETECTORS
from router.classify.sensitivity import ExtraDetector, FindHits, Hit
from router.classify.types import Sensitivity
from router.policy.schema import OrgDetector, Policy

ORG_KIND_PREFIX = "org:"


def build_detectors(policy: Policy) -> tuple[ExtraDetector, ...]:
    """The policy's detectors, in file order, then the personal-data ones when enabled."""
    settings = policy.sensitivity
    own = tuple(_compile(spec) for spec in settings.detectors)
    return (*own, *PERSONAL_DATA_DETECTORS) if settings.personal_data else own


def _compile(spec: OrgDetector) -> ExtraDetector:
    flags = 0 if spec.case_sensitive else re.IGNORECASE
    if spec.regex is not None:
        pattern = re.compile(spec.regex, flags)
    else:
        words = sorted((k.strip() for k in spec.keywords or ()), key=len, reverse=True)
        phrases = (r"\s+".join(map(re.escape, word.split())) for word in words)
        pattern = re.compile(rf"(?<!\w)(?:{'|'.join(phrases)})(?!\w)", flags)
    kind = ORG_KIND_PREFIX + spec.name
    return ExtraDetector(kind=kind, level=Sensitivity(spec.level), find=_finder(kind, pattern))


def _finder(kind: str, pattern: re.Pattern[str]) -> FindHits:
    def find(text: str, lowered: str, shape: bytes) -> Iterator[Hit]:
        for match in pattern.finditer(text):
            if match.end() > match.start():  # the schema refuses empty matches; be sure
                yield kind, match.start(), match.end()

    return find
