"""Combining the learned score with simple signals, fitted on training categories only, per set.

    OPENBLAS_NUM_THREADS=1 python bench/learned_router_combine.py [--matrix ...] [--cache DIR]

Signals per question: the learned router's score, log prompt length, and the rule classifier's
difficulty and task. For each evaluation set (the fixed split and three leave-two-categories-out
folds; within them the `math` category and its grade-school part) the learned router is trained
on the other categories, and its scores on the training rows are taken out of fold (3 folds by
category), because in-sample scores are optimistic.

Combiners, all fitted on training rows only:
- rank: each signal becomes its percentile in the training distribution (as the run-time scorer
  must, one prompt at a time), and the score is a weighted sum of percentiles. The weights come
  from a grid over the simplex, chosen by leave-one-category-out inside the training set: the
  weights whose worst (rank-worst), mean (rank-mean) APGR over the training categories is
  highest, or whose worst shortfall against each category's best single signal is smallest
  (rank-regret), so they reflect how each signal transfers to a category it did not see;
  rank-LD leaves length out.
- gated, gated-regret: the same choice made per classifier task (falling back to the global
  weights where a task has fewer than 300 training rows or fewer than two categories with 50).
Last session's stacked logistic model is in bench/learned_router_signals.py.

Learned scores are cached in --cache (they take most of the time).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))
import learned_router as lr
import learned_router_signals as sig

from router.classify.classifier import RuleClassifier
from router.learned.features import FeatureConfig
from router_training.evaluate import evaluate_pair
from router_training.mmlu_pro import load_matrix

Floats = NDArray[np.float64]
SETS = {
    "fixed split": list(lr.FIXED_TEST),
    "math + physics": ["math", "physics"],
    "biology + economics": ["biology", "economics"],
    "business + engineering": ["business", "engineering"],
}
SIGNALS = ("learned", "length", "difficulty")
STEP = 0.1
MIN_TASK_ROWS = 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", type=Path, default=lr.DEFAULT_MATRIX)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/learned_router_combine"))
    parser.add_argument("--sets", help="comma-separated subset of: " + ", ".join(SETS))
    args = parser.parse_args()
    wanted = args.sets.split(",") if args.sets else list(SETS)
    args.cache.mkdir(parents=True, exist_ok=True)
    matrix = load_matrix(args.matrix)
    strong, weak = "gpt-4o-2024-05-13", "Meta-Llama-3_1-8B-Instruct"
    base = args.cache / "signals.npz"
    data: lr.Data | None = None
    if base.exists():
        saved = np.load(base)
        tasks, difficulty, loglen = saved["tasks"], saved["difficulty"], saved["loglen"]
        sources, categories, scores = saved["sources"], saved["categories"], saved["scores"]
    else:
        data = lr.prepare(matrix, FeatureConfig(), strong, weak, head=True)
        columns = [matrix.column(strong), matrix.column(weak)]
        graded = np.flatnonzero(~np.isnan(matrix.correct[:, columns]).any(axis=1))
        classifier = RuleClassifier()
        task_list, diff_list = [], []
        for row in graded:
            message = {"role": "user", "content": matrix.prompt(int(row))}
            body = {"model": "auto", "messages": [message]}
            result = classifier.classify(body)
            task_list.append(result.task.value)
            diff_list.append(result.difficulty)
        tasks, difficulty = np.array(task_list), np.array(diff_list, dtype=float)
        loglen = np.log1p([len(matrix.prompt(int(r))) for r in graded])
        sources, categories, scores = np.array(matrix.sources)[graded], data.categories, data.scores
        np.savez(base, tasks=tasks, difficulty=difficulty, loglen=loglen, sources=sources,
                 categories=categories, scores=scores)
    variants = {
        "rank-worst": ("worst", SIGNALS, False),
        "rank-mean": ("mean", SIGNALS, False),
        "rank-LD": ("mean", ("learned", "difficulty"), False),
        "rank-regret": ("regret", SIGNALS, False),
        "gated": ("mean", SIGNALS, True),
        "gated-regret": ("regret", SIGNALS, True),
    }
    print(f"{'set':34}{'n':>6}  {'learned':>8}{'length':>8}{'diffic.':>8}{'best1':>7}  "
          + "".join(f"{v:>13}" for v in variants))
    chosen: dict[str, list[str]] = {v: [] for v in variants}
    feasible: dict[tuple[float, ...], list[bool]] = {}
    for name in wanted:
        test = np.isin(categories, SETS[name])
        path = args.cache / f"{name.replace(' ', '_')}.npz"
        if path.exists():
            saved = np.load(path)
            learned_test, learned_oof = saved["test"], saved["oof"]
        else:
            if data is None:
                data = lr.prepare(matrix, FeatureConfig(), strong, weak, head=True)
            learned_test = lr.test_scores(lr.fit(data, ~test), data, test)
            learned_oof = sig.out_of_fold(data, np.flatnonzero(~test))
            np.savez(path, test=learned_test, oof=learned_oof)
        train = ~test
        values = {
            "learned": (learned_oof, learned_test),
            "length": (loglen[train], loglen[test]),
            "difficulty": (difficulty[train], difficulty[test]),
        }
        combined = {}
        for label, (objective, allowed, gated) in variants.items():
            combiner = fit_rank_combiner(
                {k: v[0] for k, v in values.items()}, tasks[train], categories[train],
                scores[train], objective, allowed, gated,
            )
            combined[label] = combiner.score({k: v[1] for k, v in values.items()}, tasks[test])
            chosen[label].append(f"{name}: {combiner.weights} {combiner.per_task or ''}")
        subsets = {
            "all": np.ones(int(test.sum()), dtype=bool),
            "math": categories[test] == "math",
            "grade school": sources[test] == "ori_mmlu-elementary_mathematics",
        }
        for label, mask in subsets.items():
            qs, qw = scores[test][mask, 0], scores[test][mask, 1]
            if mask.sum() < 50 or qs.mean() == qw.mean():
                continue
            singles = [apgr(values[s][1][mask], qs, qw) for s in SIGNALS]
            print(
                f"{name + ' / ' + label:34}{int(mask.sum()):6d}  "
                + "".join(f"{a:8.3f}" for a in singles)
                + f"{max(singles):7.3f}  "
                + "".join(f"{apgr(c[mask], qs, qw):13.3f}" for c in combined.values())
            )
            # Feasibility, read off the evaluation sets (not a way to choose weights): for each
            # fixed weight vector, is it at least the best single signal on this set?
            ranks = fit_rank_combiner(
                {k: v[0] for k, v in values.items()}, tasks[train], categories[train],
                scores[train], "mean", ("learned",), False,
            ).percentiles({k: v[1][mask] for k, v in values.items()})
            for weights in simplex(STEP):
                value = apgr(ranks @ np.array(weights), qs, qw)
                feasible.setdefault(weights, []).append(value >= max(singles) - 1e-9)
    n_sets = max(len(v) for v in feasible.values())
    best = max(feasible.items(), key=lambda item: sum(item[1]))
    print(
        f"\nany fixed weight (step {STEP}) at least the best single signal on every set: "
        f"{any(all(v) for v in feasible.values())}; the most sets one weight vector covers: "
        f"{sum(best[1])} of {n_sets}, by {best[0]}"
    )
    print("\nweights chosen on training categories (learned, length, difficulty):")
    for label, lines in chosen.items():
        print(f"  {label}:")
        for line in lines:
            print(f"    {line}")


def apgr(score: Floats, q_strong: Floats, q_weak: Floats) -> float:
    return evaluate_pair(score, q_strong, q_weak).apgr


class RankCombiner:
    def __init__(self, grids: dict[str, Floats], weights: tuple[float, ...],
                 per_task: dict[str, tuple[float, ...]]) -> None:
        self.grids, self.weights, self.per_task = grids, weights, per_task

    def percentiles(self, values: dict[str, Floats]) -> Floats:
        return np.column_stack([midrank(self.grids[s], values[s]) for s in SIGNALS])

    def score(self, values: dict[str, Floats], tasks: NDArray[np.str_]) -> Floats:
        ranks = self.percentiles(values)
        weights = np.tile(np.array(self.weights), (len(tasks), 1))
        for task, w in self.per_task.items():
            weights[tasks == task] = w
        result: Floats = (ranks * weights).sum(axis=1)
        return result


def midrank(grid: Floats, values: Floats) -> Floats:
    """The share of the grid below each value, ties counted half: a percentile for any value."""
    below = np.searchsorted(grid, values, side="left")
    upto = np.searchsorted(grid, values, side="right")
    result: Floats = (below + upto) / (2.0 * len(grid))
    return result


def simplex(step: float) -> list[tuple[float, ...]]:
    n = round(1 / step)
    return [
        (a / n, b / n, (n - a - b) / n)
        for a, b in itertools.product(range(n + 1), repeat=2)
        if a + b <= n
    ]


def choose(ranks: Floats, categories: NDArray[np.str_], scores: Floats, objective: str,
           allowed: tuple[str, ...] = SIGNALS) -> tuple[tuple[float, ...], float]:
    """The grid weights with the best worst-category (or mean) APGR over training categories."""
    groups, best_single = [], []
    for category in sorted(set(categories.tolist())):
        mask = categories == category
        qs, qw = scores[mask, 0], scores[mask, 1]
        if mask.sum() >= 50 and abs(qs.mean() - qw.mean()) > 0.02:
            groups.append((mask, qs, qw))
            singles = [apgr(ranks[mask, i], qs, qw) for i, s in enumerate(SIGNALS) if s in allowed]
            best_single.append(max(singles))
    best: tuple[float, ...] = (1.0, 0.0, 0.0)
    best_value = -np.inf
    for weights in simplex(STEP):
        if any(w > 0 and s not in allowed for w, s in zip(weights, SIGNALS, strict=True)):
            continue
        combined = ranks @ np.array(weights)
        results = [apgr(combined[m], qs, qw) for m, qs, qw in groups]
        if not results:
            continue
        if objective == "worst":
            value = min(results)
        elif objective == "regret":  # the worst shortfall against the category's best signal
            value = min(r - b for r, b in zip(results, best_single, strict=True))
        else:
            value = float(np.mean(results))
        if value > best_value:
            best, best_value = weights, value
    return best, best_value


def fit_rank_combiner(values: dict[str, Floats], tasks: NDArray[np.str_],
                      categories: NDArray[np.str_], scores: Floats, objective: str,
                      allowed: tuple[str, ...] = SIGNALS, gated: bool = True) -> RankCombiner:
    # Percentile grids from the training distribution: 1,001 quantiles per signal; ties
    # (difficulty takes few values) get the middle of their range (midrank).
    grids = {s: np.quantile(values[s], np.linspace(0, 1, 1001)) for s in SIGNALS}
    combiner = RankCombiner(grids, (1.0, 0.0, 0.0), {})
    ranks = combiner.percentiles(values)
    weights, _ = choose(ranks, categories, scores, objective, allowed)
    per_task: dict[str, tuple[float, ...]] = {}
    for task in sorted(set(tasks.tolist())):
        mask = tasks == task
        counts = [int((categories[mask] == c).sum()) for c in set(categories[mask].tolist())]
        if not gated or mask.sum() < MIN_TASK_ROWS or sum(c >= 50 for c in counts) < 2:
            continue
        per_task[task], _ = choose(ranks[mask], categories[mask], scores[mask], objective, allowed)
    return RankCombiner(grids, weights, per_task)


if __name__ == "__main__":
    main()
