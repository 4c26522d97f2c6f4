"""Personal data without a fixed format: floors on the labelled set, and worked examples."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from router.classify import RuleClassifier
from router.classify._personal import KINDS, PERSONAL_DATA_DETECTORS
from router.classify.sensitivity import scan_text
from router.classify.types import Sensitivity

DATA = Path(__file__).resolve().parents[2] / "data/personal_data_prompts.jsonl"
ROWS: list[dict[str, Any]] = [
    json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()
]


def kinds_in(text: str) -> set[str]:
    findings = scan_text(text, PERSONAL_DATA_DETECTORS).findings
    return {kind for kind, count in findings.items() if count and kind in KINDS}


def scores(split: str) -> dict[str, tuple[float, float]]:
    """Precision and recall per kind, and for ``any`` personal data, on one split."""
    counts: dict[str, Counter[str]] = {kind: Counter() for kind in (*KINDS, "any")}
    for row in (r for r in ROWS if r["split"] == split):
        want, got = set(row["kinds"]), kinds_in(row["text"])
        for kind in KINDS:
            if kind in want or kind in got:
                outcome = "tp" if kind in want and kind in got else "fp" if kind in got else "fn"
                counts[kind][outcome] += 1
        if want or got:
            counts["any"]["tp" if want and got else "fp" if got else "fn"] += 1
    return {
        kind: (c["tp"] / max(1, c["tp"] + c["fp"]), c["tp"] / max(1, c["tp"] + c["fn"]))
        for kind, c in counts.items()
    }


def test_the_labelled_set_is_large_and_covers_every_kind() -> None:
    assert len(ROWS) >= 300
    splits = Counter(row["split"] for row in ROWS)
    assert splits["after_freeze"] >= 80
    for split in ("frozen", "after_freeze"):
        rows = [row for row in ROWS if row["split"] == split]
        assert {kind for row in rows for kind in row["kinds"]} == set(KINDS)
        assert sum(1 for row in rows if not row["kinds"]) >= len(rows) // 3  # hard negatives


# Floors under the measured figures (bench/personal_data_report.py): the frozen split was
# tuned on, so it must stay near perfect; the after-freeze split shows how the rules generalise.
@pytest.mark.parametrize(
    ("split", "kind_floor", "any_floor"),
    [("frozen", (0.95, 0.95), (0.97, 0.97)), ("after_freeze", (0.85, 0.75), (0.95, 0.88))],
)
def test_precision_and_recall_floors(
    split: str, kind_floor: tuple[float, float], any_floor: tuple[float, float]
) -> None:
    measured = scores(split)
    for kind, (precision, recall) in measured.items():
        floor = any_floor if kind == "any" else kind_floor
        assert precision >= floor[0], (split, kind, precision)
        assert recall >= floor[1], (split, kind, recall)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Patient Maria Gonzalez, born 14/03/1978, 22 Elm Street, Springfield, diagnosed with "
         "type 2 diabetes.", {"person_birth_date", "person_address", "person_health"}),
        ("Draft a letter to employee Tom Becker about his disciplinary hearing.", {"person_hr"}),
        ("Mr. Okafor's passport number is 512345678, please verify.", {"person_government_id"}),
        ("John Smith owes $12,400 and his credit score dropped to 540.", {"person_financial"}),
        ("Send the refund to Emma Thompson at 42 Oak Avenue, Leeds.", {"person_address"}),
        ("Name: Dana Reyes\nSalary: 85,000", {"person_hr"}),
        ("Extract: Name: Yusuf Demir, D.O.B. 11/02/1986.", {"person_birth_date"}),
        ("Herr Klaus Meyer, Hauptstrasse 12, Berlin", {"person_address"}),
        ("Employee Rahul Mehta's H-1B visa expires in May.", {"person_hr"}),
        ("Patient Ann Lee takes sertraline 50mg.", {"person_health"}),
        ("Jonas Weber lives at 14 on the corner, ask him.", {"person_address"}),
        ("Update Maria Lopez: home address: 9 Quay Side.", {"person_address"}),
        ("Mr. Frank Hughes, Apt 3, wants a call back.", {"person_address"}),
        ("Lena Vogel, Via Roma 15, Milano", {"person_address"}),
        ("The office on Maria Street pays a salary above average.", set()),  # a place
        ("Dear Nomvula, your salary review is on Friday.", {"person_hr"}),
        ("Dear team, salary reviews are on Friday.", set()),
        # hard negatives
        ("How do I treat a cold?", set()),
        ("What should our sick leave policy say about part-time staff?", set()),
        ("Barack Obama, the 44th president, was born on August 4, 1961 in Honolulu.", set()),
        ("Write a short story where Alice, a nurse, is diagnosed with cancer.", set()),
        ("Albert Einstein was born in 1879 in Ulm.", set()),  # history, and famous
        ("Turn left on Main Street, then continue to 5th Avenue.", set()),
        ("def save(name, birth_date, address): db.insert(name=name, birth_date=birth_date)",
         set()),
        ("Mr. Okafor renewed his passport last week.", set()),  # no ID number
        ("Our Customer Service team handles loan repayment questions.", set()),  # a heading
    ],
)
def test_examples(text: str, expected: set[str]) -> None:
    assert kinds_in(text) == expected


def test_cue_and_name_must_share_a_paragraph() -> None:
    assert kinds_in("Maria Lopez joined in May.\n\nThe salary bands are out.") == set()
    assert kinds_in("Maria Lopez joined in May. The salary bands are out.") == {"person_hr"}


def test_detectors_share_one_analysis_but_never_mix_texts() -> None:
    first = "Priya Natarajan's salary is $92,000."
    second = "The salary bands are published each spring."
    # Names are read from capitals: a text that differs only in case is another text.
    lower = first.lower()
    for _ in range(3):  # alternating texts of the same detectors give each its own answer
        assert kinds_in(first) == {"person_hr"}
        assert kinds_in(second) == set()
        assert kinds_in(lower) == set()


def test_findings_count_each_cue_and_raise_the_level_to_pii() -> None:
    scan = scan_text("Employee Lukas Weber: salary 60k, bonus 5k.", PERSONAL_DATA_DETECTORS)
    assert scan.findings == {"person_hr": 2}
    assert scan.level is Sensitivity.PII
    assert all(d.level is Sensitivity.PII for d in PERSONAL_DATA_DETECTORS)


def test_the_classifier_reports_personal_data_when_given_the_detectors() -> None:
    body = {"messages": [{"role": "user", "content": "Patient Ivan Petrov is on dialysis."}]}
    assert RuleClassifier().classify(body).sensitivity is Sensitivity.NONE
    found = RuleClassifier(extra_detectors=PERSONAL_DATA_DETECTORS).classify(body)
    assert found.sensitivity is Sensitivity.PII
    assert found.findings == {"person_health": 2}  # "patient <Name>" and "dialysis"


def test_the_shipped_name_list_is_small_and_leaves_out_common_words() -> None:
    from router.classify._personal_names import first_names

    path = Path(__file__).resolve().parents[3] / "router/classify/data/first_names.txt"
    assert path.stat().st_size < 100_000
    names = first_names()
    assert len(names) > 9_000
    assert {"maria", "priya", "kofi", "yuki", "tom"} <= names
    assert not {"may", "will", "georgia", "mark", "patient"} & names


def test_the_name_list_is_read_on_first_use_not_at_import() -> None:
    probe = (
        "from router.classify import _personal, _personal_names as n\n"
        "print(n.first_names.cache_info().currsize)\n"
        "from router.classify.sensitivity import scan_text\n"
        "scan_text('Maria Lopez has asthma.', _personal.PERSONAL_DATA_DETECTORS)\n"
        "print(n.first_names.cache_info().currsize)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    assert out == ["0", "1"]


def test_the_classifier_set_has_no_personal_data_false_alarms() -> None:
    """On the classifier's own labelled set, every person_* finding is in a row labelled pii."""
    path = DATA.parent / "classifier_prompts.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    flagged = []
    for row in rows:
        messages = row.get("messages") or [{"role": "user", "content": row["prompt"]}]
        text = "\n".join(m["content"] for m in messages if isinstance(m.get("content"), str))
        if kinds_in(text):
            flagged.append(row["sensitivity"])
    assert flagged and set(flagged) == {"pii"}


def test_the_shared_analysis_is_keyed_by_the_text_not_only_its_lower_case() -> None:
    text = "Priya Natarajan's salary is $92,000."
    lowered = text.lower()
    hr = next(d for d in PERSONAL_DATA_DETECTORS if d.kind == "person_hr")
    assert len(list(hr.find(text, lowered, b""))) == 1
    # the same lower-cased object, but a text without capitals holds no name
    assert list(hr.find(lowered, lowered, b"")) == []
