from router.classify.types import Capability, Classification, Sensitivity, Task
from router.stats.records import ClassificationSummary, RequestRecord
from tests.unit.stats.builders import make_record


def test_summary_keeps_counts_not_scores() -> None:
    classification = Classification(
        task=Task.MATH,
        difficulty=1.3,
        sensitivity=Sensitivity.PII,
        findings={"email": 2},
        capabilities=frozenset({Capability.VISION, Capability.TOOLS}),
        prompt_tokens=321,
        task_scores={"math": 0.9},
        signals=("latex",),
    )
    summary = ClassificationSummary.of(classification)
    assert summary.task is Task.MATH
    assert summary.difficulty == 1.0
    assert summary.findings == {"email": 2}
    assert summary.capabilities == [Capability.TOOLS, Capability.VISION]
    assert summary.is_sensitive


def test_record_round_trips_through_json() -> None:
    rec = make_record(ttft_ms=45.0, streamed=True, exploration=True, prompt="hi", completion="yo")
    assert RequestRecord.model_validate_json(rec.model_dump_json()) == rec


def test_content_stays_empty_unless_given() -> None:
    rec = make_record()
    assert rec.prompt is None and rec.completion is None


def test_a_record_stored_before_requested_model_and_budget_share_still_loads() -> None:
    stored = make_record(requested_model="auto", budget_used_share=0.4).model_dump(mode="json")
    del stored["requested_model"], stored["budget_used_share"]
    old = RequestRecord.model_validate(stored)
    assert old.requested_model is None and old.budget_used_share is None


def test_a_record_stored_before_the_rename_reads_its_router_score_as_prompt_score() -> None:
    """Records are JSON in the database; those written before `router_score` became
    `prompt_score` keep their score."""
    new = make_record(prompt_score=0.73)
    stored = new.model_dump(mode="json")
    assert stored["prompt_score"] == 0.73 and "router_score" not in stored
    stored["router_score"] = stored.pop("prompt_score")
    old = RequestRecord.model_validate(stored)
    assert old.prompt_score == 0.73
    assert old == new
