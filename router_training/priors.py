"""Quality priors per Junction task x model, derived from MMLU-Pro's per-category results.

    python -m router_training.priors --matrix mmlu_pro_matrix.csv.gz \\
        --map policies/quality/mmlu_pro_map.yaml --out policies/quality/mmlu_pro_priors.yaml

The map assigns each MMLU-Pro category to a task. A prior is the share of graded questions the
model answered correctly, pooled over the task's categories (so a big category weighs more);
ungraded cells are left out and the count of graded questions is written beside each mean.
Tasks MMLU-Pro does not cover get no rows.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from router.classify.types import Task
from router_training.mmlu_pro import MmluProMatrix, load_matrix

__all__ = ["CategoryMap", "TaskPriors", "derive_priors", "load_category_map", "main"]


class CategoryMap(BaseModel):
    """`mmlu_pro_map.yaml`: category -> task (null leaves a category out)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    categories: dict[str, Task | None]
    not_covered: tuple[Task, ...] = ()


class TaskPriors(BaseModel):
    """The derived table: mean quality and graded count per task x model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quality: dict[str, dict[str, float]]
    counts: dict[str, dict[str, int]]
    categories: dict[str, list[str]]
    not_covered: list[str]


def load_category_map(path: Path) -> CategoryMap:
    """Read and validate the map; the error names the file and the bad entry."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return CategoryMap.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the category map: {exc}") from exc
    except ValidationError as exc:
        raise ValueError(f"{path}: invalid category map: {exc}") from exc


def derive_priors(
    matrix: MmluProMatrix, mapping: CategoryMap, models: Sequence[str] | None = None
) -> TaskPriors:
    """Pool each task's categories and average correctness per model."""
    unmapped = sorted(set(matrix.categories) - set(mapping.categories))
    if unmapped:
        raise ValueError(
            f"categories {unmapped} are not in the map; map each to a task, or to null to skip it"
        )
    chosen = list(models) if models else list(matrix.models)
    categories = np.array(matrix.categories)
    quality: dict[str, dict[str, float]] = {}
    counts: dict[str, dict[str, int]] = {}
    members: dict[str, list[str]] = {}
    for task in Task:
        cats = sorted(c for c, t in mapping.categories.items() if t == task)
        if not cats:
            continue
        rows = np.isin(categories, cats)
        members[task.value] = cats
        quality[task.value], counts[task.value] = {}, {}
        for model in chosen:
            graded = matrix.correct[rows, matrix.column(model)]
            graded = graded[~np.isnan(graded)]
            if len(graded) == 0:
                continue
            quality[task.value][model] = round(float(graded.mean()), 4)
            counts[task.value][model] = len(graded)
    covered = set(quality)
    return TaskPriors(
        quality=quality,
        counts=counts,
        categories=members,
        not_covered=[t.value for t in Task if t.value not in covered],
    )


def render(priors: TaskPriors, *, matrix_path: Path, map_path: Path) -> str:
    """The priors file: a header saying how it was made, then the tables as YAML."""
    header = (
        "# Quality priors per task x model from MMLU-Pro (generated; do not edit by hand).\n"
        f"#   python -m router_training.priors --matrix {matrix_path.name} --map {map_path}\n"
        "# quality: share of graded questions answered correctly, pooled over the task's\n"
        "#   categories (see `categories`); counts: graded questions behind each mean.\n"
        "# Model names are MMLU-Pro's: copy rows into a policy's `quality:` table under the\n"
        "#   gateway's own model names. Tasks in `not_covered` have no MMLU-Pro questions.\n"
    )
    body = yaml.safe_dump(priors.model_dump(), sort_keys=False, width=100)
    return header + body


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m router_training.priors",
        description="MMLU-Pro per-category results -> quality priors per task x model",
    )
    parser.add_argument("--matrix", type=Path, required=True, help="mmlu_pro_matrix.csv.gz")
    parser.add_argument("--map", type=Path, required=True, help="category -> task YAML")
    parser.add_argument("--out", type=Path, required=True, help="priors YAML to write")
    parser.add_argument("--models", help="comma-separated models (default: all)")
    args = parser.parse_args(argv)
    mapping = load_category_map(args.map)
    matrix = load_matrix(args.matrix)
    models = [m.strip() for m in args.models.split(",")] if args.models else None
    priors = derive_priors(matrix, mapping, models)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(priors, matrix_path=args.matrix, map_path=args.map))
    rows = sum(len(models) for models in priors.quality.values())
    print(f"wrote {rows} priors for tasks {sorted(priors.quality)} to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
