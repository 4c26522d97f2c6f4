"""What a record keeps of the decision: the spill reason as a kind, candidates without content."""

from __future__ import annotations

import pytest

from router.classify.types import Classification, Sensitivity, Task
from router.gateway.recording import decision_summary, spill_reason
from router.policy.decision import Decision, Rejection, RejectionKind, Verdict, VerdictKind
from router.stats.records import Attempt

CHAT = Classification(task=Task.CHAT, difficulty=0.2, sensitivity=Sensitivity.NONE)


def decision(*verdicts: Verdict, spilled: bool = False,
             rejection: Rejection | None = None) -> Decision:
    return Decision(route="default", objective="min_cost",
                    attempts=tuple(v.model for v in verdicts if v.kept), verdicts=verdicts,
                    classification=CHAT, fail_closed=False, spilled=spilled,
                    rejection=rejection)


def verdict(model: str, residency: str = "external", **changes: object) -> Verdict:
    fields: dict[str, object] = {"role": "candidate", "kept": True, "reason": "eligible",
                                 **changes}
    return Verdict(model=model, residency=residency, **fields)  # type: ignore[arg-type]


def attempt(model: str, outcome: str) -> Attempt:
    return Attempt(model=model, endpoint="http://x/v1", outcome=outcome, duration_ms=1.0)


@pytest.mark.parametrize(("saturation", "kind"), [
    ("waiting 9 > 4", "local_queue"),
    ("KV cache 97% > 90%", "local_kv_cache"),
    ("predicted TTFT 900 ms > 500 ms", "local_ttft"),
    ("KV cache 97% > 90%, waiting 9 > 4", "local_kv_cache"),
    (None, "local_saturated"),
])
def test_a_spilled_decision_names_the_measure_that_was_over(saturation: str | None,
                                                           kind: str) -> None:
    spilled = decision(verdict("api"), verdict("local", "local", spilled=True,
                                               kind=VerdictKind.SPILLED, saturation=saturation),
                       spilled=True)
    assert spill_reason(spilled, [attempt("api", "ok")], "api") == kind


def test_a_failed_first_attempt_is_a_failover_and_a_first_choice_answer_is_none() -> None:
    plain = decision(verdict("local", "local"), verdict("api"))
    tried = [attempt("local", "503"), attempt("api", "ok")]
    assert spill_reason(plain, tried, "api") == "failover_503"
    assert spill_reason(plain, [attempt("local", "ok")], "local") is None
    assert spill_reason(plain, tried[:1], None) is None


def test_the_summary_keeps_verdicts_and_the_refusal_code() -> None:
    refused = decision(verdict("api", kept=False, kind=VerdictKind.SENSITIVE_EXTERNAL,
                               reason="holds pii"),
                       rejection=Rejection(RejectionKind.SENSITIVE_EXTERNAL, "no"))
    summary = decision_summary(refused)
    assert summary.rejection == "sensitive_data_external_model"
    [candidate] = summary.candidates
    assert (candidate.model, candidate.kept, candidate.kind) == ("api", False,
                                                                 "sensitive_external")
