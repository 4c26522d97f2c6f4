"""The policy's ``sensitivity`` section: validation errors, and the detectors it compiles."""

from __future__ import annotations

import pytest

from router.classify._personal import PERSONAL_DATA_DETECTORS
from router.classify.sensitivity import scan_text
from router.classify.types import Sensitivity
from router.errors import PolicyError
from router.policy.detectors import build_detectors
from router.policy.loader import parse_policy
from router.policy.schema import Policy

BASE = """
models:
  m:
    backend: local
    model: x
    endpoints: ["http://127.0.0.1:1"]
routes:
  - name: r
    candidates: [m]
"""


def load(sensitivity: str) -> Policy:
    return parse_policy(BASE + sensitivity, source="p.yaml", environ={})


def detectors_of(*specs: str, personal_data: bool = False) -> Policy:
    body = "".join(f"    - {spec}\n" for spec in specs)
    return load(f"sensitivity:\n  personal_data: {str(personal_data).lower()}\n"
                f"  detectors:\n{body}")


def test_a_policy_without_the_section_gets_the_personal_data_detectors() -> None:
    policy = parse_policy(BASE, source="p.yaml", environ={})
    assert policy.sensitivity.personal_data is True
    assert build_detectors(policy) == PERSONAL_DATA_DETECTORS
    assert build_detectors(load("sensitivity: {personal_data: false}")) == ()


def test_own_detectors_come_first_then_personal_data() -> None:
    policy = detectors_of("{name: a, level: secret, regex: 'A-[0-9]+'}", personal_data=True)
    built = build_detectors(policy)
    assert [d.kind for d in built[:1]] == ["org:a"]
    assert built[1:] == PERSONAL_DATA_DETECTORS
    assert built[0].level is Sensitivity.SECRET


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Status of BLUEFALCON?", 1),
        ("status of bluefalcon and Bluefalcon", 2),  # case-insensitive by default
        ("BLUEFALCONS are birds; xBLUEFALCON is not it", 0),  # whole words only
        ("Project Nimbus ships soon", 1),
        ("project\n  nimbus ships soon", 1),  # a line break inside the phrase still counts
        ("Nimbus alone is a cloud", 0),
        ("C++ and c# are languages", 1),  # punctuation in a keyword is matched literally
    ],
)
def test_keywords_match_whole_words_case_insensitively(text: str, expected: int) -> None:
    policy = detectors_of(
        "{name: codenames, level: confidential, keywords: [BLUEFALCON, 'Project Nimbus', 'c#']}"
    )
    scan = scan_text(text, build_detectors(policy))
    assert scan.findings.get("org:codenames", 0) == expected
    assert scan.level is (Sensitivity.CONFIDENTIAL if expected else Sensitivity.NONE)


def test_case_sensitive_keywords_and_regexes() -> None:
    policy = detectors_of(
        "{name: code, level: confidential, keywords: [ORION], case_sensitive: true}",
        "{name: ids, level: pii, regex: 'CUST-[0-9]{6}', case_sensitive: true}",
    )
    built = build_detectors(policy)
    assert scan_text("orion and cust-123456", built).findings == {}
    found = scan_text("ORION for CUST-123456 and CUST-654321", built)
    assert found.findings == {"org:code": 1, "org:ids": 2}
    assert found.level is Sensitivity.CONFIDENTIAL


def test_regex_is_case_insensitive_unless_told() -> None:
    policy = detectors_of(
        r"{name: hosts, level: confidential, regex: '\b[a-z0-9-]+\.corp\.example\.com\b'}"
    )
    scan = scan_text("ssh to DB-01.CORP.EXAMPLE.COM now", build_detectors(policy))
    assert scan.findings == {"org:hosts": 1}


def test_built_in_findings_win_over_an_overlapping_org_detector() -> None:
    policy = detectors_of("{name: mail, level: secret, regex: '[a-z.]+@example\\.com'}")
    scan = scan_text("write to jane.doe@example.com", build_detectors(policy))
    assert scan.findings == {"email": 1}


@pytest.mark.parametrize(
    ("spec", "line", "expected"),
    [
        ("{name: a, level: pii, regex: '(unclosed'}", 13,
         "detector 'a': regex '(unclosed' does not compile: missing ), unterminated subpattern"),
        ("{name: a, level: pii, regex: 'x*'}", 13,
         "detector 'a': regex 'x*' matches the empty string"),
        ("{name: a, level: pii, regex: '\\b'}", 13, "matches the empty string"),
        ("{name: a, level: pii, regex: '(?=a)'}", 13, "matches the empty string"),
        ("{name: a, level: pii, keywords: [ok, '  ']}", 13,
         "detector 'a': keywords[1] is empty"),
        ("{name: a, level: pii, keywords: []}", 13, "at least 1 item"),
        ("{name: a, level: pii}", 13, "needs exactly one of 'keywords' or 'regex'"),
        ("{name: a, level: pii, keywords: [x], regex: y}", 13,
         "needs exactly one of 'keywords' or 'regex'"),
        ("{name: a, level: high, regex: x}", 13, "'pii', 'confidential' or 'secret'"),
        ("{name: 'a b', level: pii, regex: x}", 13, "should match pattern"),
        ("{name: a, level: pii, regex: x, colour: red}", 13, "unknown key"),
    ],
)
def test_bad_detectors_are_named_with_line_and_path(spec: str, line: int, expected: str) -> None:
    with pytest.raises(PolicyError) as info:
        detectors_of(spec)
    message = str(info.value)
    assert f"p.yaml:{line}: sensitivity.detectors[0]" in message, message
    assert expected in message, message


def test_detector_names_are_unique() -> None:
    with pytest.raises(PolicyError) as info:
        detectors_of("{name: a, level: pii, regex: x}", "{name: a, level: pii, regex: y}")
    assert "detector name 'a' is used twice" in str(info.value)
