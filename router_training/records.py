"""A training set from Junction's own request records and the quality evidence on them.

Each exported line is one request record (with its prompt: content logging was on) and the
feedback it received: `{"record": RequestRecord, "feedback": {"user": 1.0, "judge": 0.8}}`.
The answering model's quality on that prompt is the feedback (user and judge averaged), so the
router learns what is hard for *this* organisation's models on *its* traffic. Exploration
(`explore:` on a route) is what gives both models of a pair answers to learn from.

Privacy: a record of a sensitive request is never used, whatever the file holds, and the
exporter never writes one; a route with `scorer: {training: exclude}` (or named in
`excluded_routes`) contributes nothing. Prompts leave the records store only into the file
the operator asked for.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from router.stats.records import RequestRecord
from router_training.dataset import DatasetError, RoutingExample

__all__ = [
    "ExportedRecord",
    "JsonlRecords",
    "RecordReader",
    "RecordsSummary",
    "examples_from_records",
    "excluded_routes",
]


class ExportedRecord(BaseModel):
    """One line of a records export: the record and the feedback scores it received."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record: RequestRecord
    feedback: dict[str, float] = Field(default_factory=dict)


class RecordReader(Protocol):
    """Where records come from: an export file today, the durable store later."""

    def read(self) -> Iterator[ExportedRecord]: ...


@dataclass(frozen=True)
class JsonlRecords:
    """Records from a JSONL export (`junction records export`, or the operator's own)."""

    path: Path

    def read(self) -> Iterator[ExportedRecord]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise DatasetError(f"{self.path}: cannot read the records: {exc}") from exc
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield ExportedRecord.model_validate_json(line)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "(line)"
                raise DatasetError(
                    f"{self.path}:{number}: field {where!r}: {first['msg']}"
                ) from exc


@dataclass(frozen=True)
class RecordsSummary:
    """What was used and why the rest was not; printed by `train --from-records`."""

    used: int
    sensitive: int
    excluded_route: int
    no_prompt: int
    no_feedback: int


def excluded_routes(policy_routes: Iterable[tuple[str, str]]) -> frozenset[str]:
    """Route names whose learned-routing block says `training: exclude`."""
    return frozenset(name for name, training in policy_routes if training == "exclude")


def examples_from_records(
    records: Iterable[ExportedRecord], *, exclude_routes: frozenset[str] = frozenset()
) -> tuple[list[RoutingExample], RecordsSummary]:
    """One example per usable record: its prompt, and the answering model's feedback score."""
    examples: list[RoutingExample] = []
    sensitive = excluded = no_prompt = no_feedback = 0
    for exported in records:
        rec = exported.record
        if rec.classification.is_sensitive:
            sensitive += 1
            continue
        if rec.route in exclude_routes:
            excluded += 1
            continue
        if not rec.prompt:
            no_prompt += 1
            continue
        scores = [s for s in exported.feedback.values() if 0.0 <= s <= 1.0]
        if rec.answered_by is None or not scores:
            no_feedback += 1
            continue
        examples.append(
            RoutingExample(
                id=rec.request_id,
                prompt=rec.prompt,
                task=rec.classification.task.value,
                scores={rec.answered_by: sum(scores) / len(scores)},
                meta={"route": rec.route},
            )
        )
    summary = RecordsSummary(len(examples), sensitive, excluded, no_prompt, no_feedback)
    return examples, summary


def write_export(path: Path, lines: Iterable[ExportedRecord]) -> int:
    """Write records as JSONL, leaving out sensitive ones; returns how many were written."""
    written = 0
    with path.open("w", encoding="utf-8") as out:
        for line in lines:
            if line.record.classification.is_sensitive:
                continue
            out.write(json.dumps(line.model_dump(mode="json")) + "\n")
            written += 1
    return written
