"""Request records and a settable clock for the stats tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from router.classify.types import Sensitivity, Task
from router.stats.records import Attempt, ClassificationSummary, RequestRecord


@dataclass
class FakeClock:
    """Unix time that moves only when a test says so."""

    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_record(
    request_id: str = "req-1",
    *,
    task: Task = Task.CODE,
    model: str = "local/qwen",
    attempts: list[Attempt] | None = None,
    answered: bool = True,
    time: float = 1_700_000_000.0,
    **fields: Any,
) -> RequestRecord:
    """A successful one-attempt request unless told otherwise."""
    if attempts is None:
        attempts = [Attempt(model=model, endpoint="http://gpu-0", outcome="ok", duration_ms=120)]
    values: dict[str, Any] = {
        "request_id": request_id,
        "time": time,
        "route": "default",
        "classification": ClassificationSummary(
            task=task, difficulty=0.4, sensitivity=Sensitivity.NONE, prompt_tokens=50
        ),
        "candidates": [model],
        "chosen": model,
        "attempts": attempts,
        "answered_by": model if answered else None,
        "tokens_in": 50,
        "tokens_out": 200,
        "cost_usd": 0.002,
        "total_ms": 800.0,
        "status": 200 if answered else 502,
    }
    values.update(fields)
    return RequestRecord(**values)
