"""Turn the MMLU-Pro correctness matrix into the routing dataset format (JSONL).

    python -m router_training.convert_mmlu_pro --matrix mmlu_pro_matrix.csv.gz --out d.jsonl \\
        [--models a,b] [--categories math,law] [--per-category 20 --seed 0] \\
        [--prices api_prices.json] [--map policies/quality/mmlu_pro_map.yaml]

Each line: the question with its lettered options as `prompt`; `scores` 1/0 per graded model
(ungraded cells are left out); `cost` in dollars; `meta` with category, source and question id;
`task` from the category map when one is given.

Cost = prompt tokens x input price + output tokens x output price, with tokens = characters / 4
(the prompt as shown here, without the 5-shot examples; the output from `<model>|out_chars`,
or the model's median when missing). Prices come from the RouterArena price list where a model
has an equivalent entry (PRICE_IDS); the others use the stated list prices in STATED_PRICES.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from router_training.mmlu_pro import MmluProMatrix, load_matrix

__all__ = ["PRICE_IDS", "STATED_PRICES", "convert", "main", "model_prices"]

CHARS_PER_TOKEN = 4.0

# MMLU-Pro model -> id in api_prices_routerarena_2025-11.json: only where the priced model is
# the same model (or its hosted instruct version); base checkpoints have no API price.
PRICE_IDS: dict[str, str] = {
    "gpt-4o-2024-05-13": "gpt-4o",
    "Meta-Llama-3_1-70B-Instruct": "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo",
    "Meta-Llama-3_1-8B-Instruct": "llama-3-1-8b-instruct",
    "Mixtral-8x7B-Instruct-v0.1": "mistralai/mixtral-8x7b-instruct",
    "Mistral-7B-Instruct-v0.1": "mistralai/mistral-7b-instruct",
    "Mistral-7B-Instruct-v0.2": "mistralai/mistral-7b-instruct",
    "DeepSeek-Coder-V2": "deepseek-coder",
}

# (input, output) USD per million tokens for models without an entry in the price list:
# Google's list prices for Gemini 1.5 (October 2024), and for open checkpoints a typical
# hosted price by size (<= 9B: 0.20, 30-40B: 0.80, >= 70B or large MoE: 0.90).
STATED_PRICES: dict[str, tuple[float, float]] = {
    "gemini-1.5-pro-002": (1.25, 5.00),
    "gemini-1.5-flash-002": (0.075, 0.30),
    "Qwen1.5-110B": (0.90, 0.90),
    "Qwen1.5-72B-Chat": (0.90, 0.90),
    "Llama-2-70b-hf": (0.90, 0.90),
    "Meta-Llama-3-70B": (0.90, 0.90),
    "Meta-Llama-3_1-70B": (0.90, 0.90),
    "deepseek(2024-05-20 upload)": (0.90, 0.90),
    "jamba-1.5-large": (0.90, 0.90),
    "Yi-34B": (0.80, 0.80),
    "c4ai-command-r-v01": (0.80, 0.80),
    "Mixtral-8x7B-v0.1": (0.60, 0.60),
    "Llama-2-13b-hf": (0.30, 0.30),
}
# Everything else in the matrix is a 6-9B checkpoint.
DEFAULT_PRICE: tuple[float, float] = (0.20, 0.20)


def model_prices(models: Sequence[str], price_list: Path | None) -> dict[str, tuple[float, float]]:
    """(input, output) USD per million tokens for each model: the price list first, then ours."""
    listed: dict[str, dict[str, float]] = {}
    if price_list is not None:
        listed = json.loads(price_list.read_text(encoding="utf-8"))
    prices: dict[str, tuple[float, float]] = {}
    for model in models:
        price_id = PRICE_IDS.get(model)
        if price_id is not None and price_id in listed:
            entry = listed[price_id]
            prices[model] = (
                float(entry["input_token_price_per_million"]),
                float(entry["output_token_price_per_million"]),
            )
        else:
            prices[model] = STATED_PRICES.get(model, DEFAULT_PRICE)
    return prices


def convert(
    matrix: MmluProMatrix,
    *,
    models: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    per_category: int | None = None,
    seed: int = 0,
    prices: dict[str, tuple[float, float]] | None = None,
    tasks: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The dataset lines (as dicts) for the selected models, categories and sample."""
    chosen = list(models) if models else list(matrix.models)
    columns = [matrix.column(m) for m in chosen]
    wanted = set(categories) if categories else set(matrix.categories)
    unknown = wanted - set(matrix.categories)
    if unknown:
        raise ValueError(
            f"unknown categories {sorted(unknown)}; known: {sorted(set(matrix.categories))}"
        )
    rows = _sample(matrix, wanted, per_category, seed)
    prices = prices or model_prices(chosen, None)
    median_chars = {
        m: float(np.nanmedian(matrix.out_chars[:, k])) for m, k in zip(chosen, columns, strict=True)
    }
    lines: list[dict[str, Any]] = []
    for row in rows:
        scores = {
            m: float(matrix.correct[row, k])
            for m, k in zip(chosen, columns, strict=True)
            if not math.isnan(matrix.correct[row, k])
        }
        if not scores:
            continue
        prompt = matrix.prompt(row)
        cost = {}
        for m in scores:
            chars = matrix.out_chars[row, matrix.column(m)]
            chars = median_chars[m] if math.isnan(chars) else chars
            price_in, price_out = prices[m]
            dollars = (len(prompt) * price_in + chars * price_out) / CHARS_PER_TOKEN / 1e6
            cost[m] = round(dollars, 9)
        line: dict[str, Any] = {"id": f"mmlu-pro-{matrix.question_ids[row]}", "prompt": prompt}
        category = matrix.categories[row]
        if tasks and tasks.get(category):
            line["task"] = tasks[category]
        line["scores"] = scores
        line["cost"] = cost
        line["meta"] = {
            "category": category,
            "src": matrix.sources[row],
            "question_id": matrix.question_ids[row],
        }
        lines.append(line)
    return lines


def _sample(
    matrix: MmluProMatrix, wanted: set[str], per_category: int | None, seed: int
) -> list[int]:
    rows = [i for i, c in enumerate(matrix.categories) if c in wanted]
    if per_category is None:
        return rows
    rng = np.random.default_rng(seed)
    picked: list[int] = []
    for category in sorted(wanted):
        members = [i for i in rows if matrix.categories[i] == category]
        take = min(per_category, len(members))
        picked.extend(int(i) for i in rng.choice(members, size=take, replace=False))
    return sorted(picked)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m router_training.convert_mmlu_pro",
        description="MMLU-Pro correctness matrix -> routing dataset (JSONL)",
    )
    parser.add_argument("--matrix", type=Path, required=True, help="mmlu_pro_matrix.csv.gz")
    parser.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    parser.add_argument("--models", help="comma-separated models (default: all 31)")
    parser.add_argument("--categories", help="comma-separated categories (default: all 14)")
    parser.add_argument("--per-category", type=int, help="sample this many per category")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument(
        "--prices",
        type=Path,
        help="api_prices_routerarena_2025-11.json (default: next to the matrix)",
    )
    parser.add_argument("--map", type=Path, help="category -> task map (adds `task`)")
    args = parser.parse_args(argv)
    matrix = load_matrix(args.matrix)
    models = _split(args.models) or list(matrix.models)
    price_list = args.prices or args.matrix.parent / "api_prices_routerarena_2025-11.json"
    prices = model_prices(models, price_list if price_list.exists() else None)
    tasks = _task_map(args.map) if args.map else None
    lines = convert(
        matrix,
        models=models,
        categories=_split(args.categories),
        per_category=args.per_category,
        seed=args.seed,
        prices=prices,
        tasks=tasks,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"wrote {len(lines)} prompts x {len(models)} models to {args.out}")
    return 0


def _task_map(path: Path) -> dict[str, str]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    categories = raw.get("categories") if isinstance(raw, dict) else None
    if not isinstance(categories, dict):
        raise ValueError(f"{path}: expected a 'categories' mapping of category -> task")
    return {str(c): str(t) for c, t in categories.items() if t}


def _split(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


if __name__ == "__main__":
    raise SystemExit(main())
