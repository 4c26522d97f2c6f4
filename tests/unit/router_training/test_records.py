"""Training from Junction's own request records: content, feedback, and what is never used."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from router.classify.types import Sensitivity, Task
from router.policy.schema import LearnedRouting
from router.stats.records import ClassificationSummary
from router_training.compare import replay
from router_training.dataset import DatasetError
from router_training.records import (
    ExportedRecord,
    JsonlRecords,
    examples_from_records,
    excluded_routes,
)
from tests.unit.router_training.test_cli import DATA, STRONG, WEAK, junction
from tests.unit.stats.builders import make_record


def exported(
    i: int, prompt: str | None, model: str, score: float | None, **fields: object
) -> ExportedRecord:
    record = make_record(f"r{i}", model=model, prompt=prompt, **fields)
    return ExportedRecord(record=record, feedback={} if score is None else {"user": score})


def sensitive() -> ClassificationSummary:
    return ClassificationSummary(task=Task.CHAT, difficulty=0.2, sensitivity=Sensitivity.PII)


def test_only_records_with_content_and_feedback_outside_sensitive_and_excluded_routes() -> None:
    records = [
        exported(1, "What is 2+2?", "small", 1.0),
        exported(2, "My IBAN is ...", "small", 1.0, classification=sensitive()),
        exported(3, "Draft a contract", "big", 0.0, route="legal"),
        exported(4, None, "big", 1.0),
        exported(5, "Prove it", "big", None),
        ExportedRecord(
            record=make_record("r6", model="big", prompt="Sum this"),
            feedback={"user": 1.0, "judge": 0.5},
        ),
    ]
    examples, summary = examples_from_records(records, exclude_routes=frozenset({"legal"}))
    assert [(e.id, e.prompt, e.scores) for e in examples] == [
        ("r1", "What is 2+2?", {"small": 1.0}),
        ("r6", "Sum this", {"big": 0.75}),
    ]
    assert (summary.used, summary.sensitive, summary.excluded_route) == (2, 1, 1)
    assert (summary.no_prompt, summary.no_feedback) == (1, 1)


def test_a_malformed_export_line_names_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    good = exported(1, "x", "small", 1.0).model_dump_json()
    path.write_text(good + "\n\n" + json.dumps({"record": {"route": "x"}}) + "\n")
    with pytest.raises(DatasetError, match=r"records.jsonl:3: field 'record\.request_id'"):
        list(JsonlRecords(path).read())


def test_train_from_records_learns_both_models_and_honours_the_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [json.loads(line) for line in DATA.read_text().splitlines()]
    records = []
    for i, line in enumerate(lines):
        model = STRONG if i % 2 else WEAK  # exploration: each model answers half
        records.append(exported(i, line["prompt"], model, line["scores"][model]))
    # The same prompts on an excluded route, with the opposite feedback: must change nothing.
    for i, line in enumerate(lines[:50]):
        records.append(exported(1000 + i, line["prompt"], STRONG, 0.0, route="private"))
    records.append(exported(2000, "my salary", STRONG, 1.0, classification=sensitive()))
    path = tmp_path / "records.jsonl"
    path.write_text("".join(r.model_dump_json() + "\n" for r in records))
    out = tmp_path / "router"
    assert junction("train", "--from-records", path, "--out", out,
                    "--exclude-route", "private") == 0
    printed = capsys.readouterr().out
    assert f"records: {len(lines)} used; left out 1 sensitive, 50 on excluded routes" in printed
    manifest = json.loads((out / "router.json").read_text())
    trained = {card["name"]: card["n_train"] for card in manifest["models"]}
    assert trained == {STRONG: len(lines) // 2, WEAK: len(lines) - len(lines) // 2}
    assert junction("eval", "--data", DATA, "--router", out, "--strong", STRONG,
                    "--weak", WEAK, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["router"]["apgr"] > report["baselines"]["random"]["apgr"]


def test_train_from_records_without_usable_records_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "records.jsonl"
    path.write_text(exported(1, None, "small", 1.0).model_dump_json() + "\n")
    assert junction("train", "--from-records", path, "--out", tmp_path / "r") == 2
    assert "no record has content and feedback" in capsys.readouterr().err


def test_a_route_excludes_its_traffic_with_a_policy_key() -> None:
    spec = {"path": "r", "strong": "api", "weak": "local"}
    kept = LearnedRouting.model_validate(spec)
    excluded = LearnedRouting.model_validate({**spec, "training": "exclude"})
    routes = [("open", kept.training), ("private", excluded.training)]
    assert excluded_routes(routes) == frozenset({"private"})
    with pytest.raises(ValueError, match="training"):
        LearnedRouting.model_validate({**spec, "training": "sometimes"})
    with pytest.raises(ValueError, match=r"either threshold \(0.1\) or strong_share \(0.3\)"):
        LearnedRouting.model_validate({**spec, "threshold": 0.1, "strong_share": 0.3})


def test_replay_scores_the_records_whose_answering_model_the_router_would_choose() -> None:
    scores = np.array([0.9, 0.8, 0.1, 0.2])
    by_strong = np.array([True, False, False, True])
    quality = np.array([1.0, 0.0, 1.0, 1.0])
    result = replay(scores, by_strong, quality, threshold=0.85)
    # At share 1/4 the router sends only the first prompt to the strong model: records 1-3
    # match its choices (qualities 1, 0, 1), record 4 does not.
    point = next(p for p in result.curve if p.strong_share == 0.25)
    assert point.quality == pytest.approx(2 / 3)
    assert point.pgr == pytest.approx((2 / 3 - 0.5) / 0.5)
    assert result.strong_share == 0.25 and result.matched == 3
    with pytest.raises(ValueError, match="only one of the two models"):
        replay(scores, np.ones(4, dtype=bool), quality, threshold=None)


def test_compare_prints_the_active_and_candidate_routers_on_recorded_traffic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [json.loads(line) for line in DATA.read_text().splitlines()]
    records = []
    for i, line in enumerate(lines):
        model = STRONG if i % 2 else WEAK
        records.append(exported(i, line["prompt"], model, line["scores"][model]))
    path = tmp_path / "records.jsonl"
    path.write_text("".join(r.model_dump_json() + "\n" for r in records))
    active, candidate = tmp_path / "active", tmp_path / "candidate"
    half = tmp_path / "half.jsonl"
    half.write_text("\n".join(DATA.read_text().splitlines()[:60]) + "\n")
    assert junction("train", "--data", half, "--out", active) == 0
    assert junction("train", "--from-records", path, "--out", candidate) == 0
    capsys.readouterr()
    argv = ["compare", "--candidate", candidate, "--active", active, "--records", path]
    assert junction(*argv, "--strong", STRONG, "--weak", WEAK, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == len(lines)
    for name in ("active", "candidate"):
        assert 0.0 < report[name]["apgr"] < 1.5
    # The candidate has learned from these very records: in-sample it must rank them better.
    assert report["candidate"]["apgr"] > report["active"]["apgr"]
    assert junction(*argv, "--strong", STRONG, "--weak", WEAK) == 0
    printed = capsys.readouterr().out
    assert "active" in printed and "candidate" in printed and "strong share" in printed


def test_train_from_a_dataset_and_records_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [json.loads(line) for line in DATA.read_text().splitlines()]
    records = [exported(i, line["prompt"], STRONG, line["scores"][STRONG])
               for i, line in enumerate(lines[:30])]
    path = tmp_path / "records.jsonl"
    path.write_text("".join(r.model_dump_json() + "\n" for r in records))
    out = tmp_path / "router"
    assert junction("train", "--data", DATA, "--from-records", path, "--out", out) == 0
    trained = {card["name"]: card["n_train"]
               for card in json.loads((out / "router.json").read_text())["models"]}
    assert trained == {STRONG: len(lines) + 30, WEAK: len(lines)}
    capsys.readouterr()
    assert junction("train", "--out", tmp_path / "none") == 2
    assert "give --data, --from-records or both" in capsys.readouterr().err
