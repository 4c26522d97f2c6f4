"""Reader for the MMLU-Pro per-question x per-model correctness matrix (`mmlu_pro_matrix.csv.gz`).

Columns: question_id, category, src, answer, question, options (a JSON list), then per model
`<model>` (1/0/empty = not graded), `<model>|pred` and `<model>|out_chars`.
"""

from __future__ import annotations

import csv
import gzip
import json
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = ["MmluProMatrix", "format_prompt", "load_matrix"]

_FIXED_COLUMNS = ("question_id", "category", "src", "answer", "question", "options")


@dataclass(frozen=True)
class MmluProMatrix:
    """The matrix in memory: one row per question, one column per model (NaN = not graded)."""

    question_ids: tuple[str, ...]
    categories: tuple[str, ...]
    sources: tuple[str, ...]
    questions: tuple[str, ...]
    options: tuple[tuple[str, ...], ...]
    models: tuple[str, ...]
    correct: NDArray[np.float64]
    out_chars: NDArray[np.float64]

    def column(self, model: str) -> int:
        """The column of `model`; the error lists the models there are."""
        try:
            return self.models.index(model)
        except ValueError:
            raise KeyError(
                f"model {model!r} is not in the matrix; models: {list(self.models)}"
            ) from None

    def prompt(self, row: int) -> str:
        """The prompt a router sees for question `row`: the question and its lettered options."""
        return format_prompt(self.questions[row], self.options[row])


def format_prompt(question: str, options: Sequence[str]) -> str:
    """Question, blank line, then `A. ...` lines, as the models were asked (minus the 5 shots)."""
    lines = [
        f"{letter}. {option}"
        for letter, option in zip(string.ascii_uppercase, options, strict=False)
    ]
    return question.strip() + "\n\nOptions:\n" + "\n".join(lines)


def load_matrix(path: Path) -> MmluProMatrix:
    """Read the gzipped CSV; raises ValueError naming the column or row that is malformed."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    missing = [c for c in _FIXED_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; header starts {header[:8]}")
    at = {name: i for i, name in enumerate(header)}
    models = tuple(c for c in header if c not in _FIXED_COLUMNS and "|" not in c)
    correct = np.full((len(rows), len(models)), np.nan)
    out_chars = np.full((len(rows), len(models)), np.nan)
    for r, row in enumerate(rows):
        for k, model in enumerate(models):
            correct[r, k] = _number(row[at[model]], path, r, model)
            chars_col = at.get(f"{model}|out_chars")
            if chars_col is not None:
                out_chars[r, k] = _number(row[chars_col], path, r, f"{model}|out_chars")
    return MmluProMatrix(
        question_ids=tuple(row[at["question_id"]] for row in rows),
        categories=tuple(row[at["category"]] for row in rows),
        sources=tuple(row[at["src"]] for row in rows),
        questions=tuple(row[at["question"]] for row in rows),
        options=tuple(tuple(json.loads(row[at["options"]])) for row in rows),
        models=models,
        correct=correct,
        out_chars=out_chars,
    )


def _number(cell: str, path: Path, row: int, column: str) -> float:
    if cell == "":
        return float("nan")
    try:
        return float(cell)
    except ValueError:
        raise ValueError(
            f"{path}: data row {row + 1}, column {column!r}: {cell!r} is not a number"
        ) from None
