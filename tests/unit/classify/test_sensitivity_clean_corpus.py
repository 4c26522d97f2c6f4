"""False positives: a corpus of everyday texts with nothing sensitive in them finds nothing.

`tests/data/clean_corpus.jsonl` is written by `tests/data/make_clean_corpus.py` (seeded): code
with versions, git SHAs, sha256 sums, UUIDs, arithmetic, timestamps, base64 PNG and JPEG bytes,
minified JS, API payloads, prose in fifteen languages, URLs without credentials, lorem ipsum.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from router.classify.sensitivity import scan_text

CORPUS = Path(__file__).resolve().parents[2] / "data" / "clean_corpus.jsonl"
ROWS = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]


def test_the_corpus_is_varied() -> None:
    sources = Counter(row["source"] for row in ROWS)
    assert len(ROWS) >= 300
    assert len(sources) >= 30
    assert {"image_message", "minified_js", "git_log", "prose_ru", "prose_zh"} <= set(sources)


@pytest.mark.parametrize("row", ROWS, ids=[f"{i}-{row['source']}" for i, row in enumerate(ROWS)])
def test_clean_text_has_no_findings(row: dict[str, str]) -> None:
    assert scan_text(row["text"]).findings == {}
