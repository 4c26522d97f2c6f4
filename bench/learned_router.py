"""The learned router on MMLU-Pro categories it never saw: APGR, CPT(50%), CPT(80%), latency.

    python bench/learned_router.py [--matrix /work/shared/data/mmlu_pro_matrix.csv.gz]
        [--strong gpt-4o-2024-05-13] [--weak Meta-Llama-3_1-8B-Instruct]
        [--variant default|words|dense|all] [--no-head] [--skip-cv]
        [--json-out bench/results/lr.json]

Two held-out evaluations, both with the README's RouteLLM procedure:
- fixed split: train on 9 categories, test on FIXED_TEST (chemistry, computer science, history,
  law, psychology: 3,822 questions; two quantitative, three not);
- leave-two-categories-out cross-validation: categories sorted by name, fold i holds out
  categories i and i + 7 (7 folds, every question tested once); the mean over folds is the
  headline and "pooled" scores all out-of-fold predictions together, which also tests whether
  scores from different folds are comparable.
The router has the pair's two predictors plus a pair head trained on the peer-group gain of all
31 models (peers.py; groups chosen from training rows only); `--no-head` drops the head, which
leaves the score P(strong) - P(weak).
Baselines on the same questions: random (20 seeds), oracle, always-strong, always-weak. Then
`LearnedRouter.score` is timed on 2,000-character prompts (p50, p95). Goal: APGR >= 0.60 and
CPT(50%) <= 35 % on held-out categories.
"""

from __future__ import annotations

import os

# One BLAS thread: the training loop's products are small, and OpenBLAS threads only fight
# for the CPU (set before numpy is imported).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from router.learned.features import FeatureConfig
from router.learned.model import RouterModel
from router.learned.runtime import LearnedRouter
from router.learned.sparse import SparseRows
from router_training.evaluate import evaluate_pair, random_baseline
from router_training.fit import HeadTarget, featurise, fit_router
from router_training.mmlu_pro import MmluProMatrix, load_matrix
from router_training.peers import gain_target, peer_groups

DEFAULT_MATRIX = Path("/work/shared/data/mmlu_pro_matrix.csv.gz")
FIXED_TEST = ("chemistry", "computer science", "history", "law", "psychology")
VARIANTS = {
    "default": FeatureConfig(),
    "words": FeatureConfig(char_weight=0.0),
    "dense": FeatureConfig(word_weight=0.0, char_weight=0.0),
}
Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Data:
    matrix: MmluProMatrix
    config: FeatureConfig
    x: SparseRows
    dense: NDArray[np.float32]
    scores: Floats
    peers: Floats
    categories: NDArray[np.str_]
    models: tuple[str, str]
    head: bool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", type=Path, default=DEFAULT_MATRIX)
    parser.add_argument("--strong", default="gpt-4o-2024-05-13")
    parser.add_argument("--weak", default="Meta-Llama-3_1-8B-Instruct")
    parser.add_argument("--variant", choices=[*VARIANTS, "all"], default="default")
    parser.add_argument("--no-head", action="store_true", help="no pair head: P(s) - P(w)")
    parser.add_argument("--skip-cv", action="store_true", help="only the fixed split")
    parser.add_argument("--json-out", type=Path, help="also write the results as JSON")
    args = parser.parse_args()

    matrix = load_matrix(args.matrix)
    results: dict[str, Any] = {"strong": args.strong, "weak": args.weak, "variants": {}}
    names = list(VARIANTS) if args.variant == "all" else [args.variant]
    for name in names:
        started = time.perf_counter()
        data = prepare(matrix, VARIANTS[name], args.strong, args.weak, head=not args.no_head)
        print(
            f"\n=== variant {name!r}: {data.x.n_rows} questions featurised "
            f"in {time.perf_counter() - started:.1f}s"
        )
        variant: dict[str, Any] = {"pair_head": data.head}
        test = np.isin(data.categories, FIXED_TEST)
        model, fixed = held_out(data, ~test, test)
        variant["fixed_split"] = {"test_categories": list(FIXED_TEST), **fixed}
        print_block(f"fixed split, test = {', '.join(FIXED_TEST)}", fixed)
        if not args.skip_cv:
            variant["cross_validation"] = cross_validate(data)
        variant["latency_ms"] = latency(model, matrix, args.strong, args.weak)
        lat = variant["latency_ms"]
        print(
            f"LearnedRouter.score on 2,000-char prompts: p50 {lat['p50']:.3f} ms, "
            f"p95 {lat['p95']:.3f} ms ({lat['calls']} calls)"
        )
        results["variants"][name] = variant
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.json_out}")


def prepare(
    matrix: MmluProMatrix, config: FeatureConfig, strong: str, weak: str, *, head: bool
) -> Data:
    """Featurise every question graded for both models, once per feature variant."""
    columns = [matrix.column(strong), matrix.column(weak)]
    scores = matrix.correct[:, columns]
    graded = np.flatnonzero(~np.isnan(scores).any(axis=1))
    x, dense = featurise([matrix.prompt(int(i)) for i in graded], config)
    categories = np.array(matrix.categories)[graded]
    peers = matrix.correct[graded]
    return Data(matrix, config, x, dense, scores[graded], peers, categories, (strong, weak), head)


def held_out(
    data: Data, train: NDArray[np.bool_], test: NDArray[np.bool_]
) -> tuple[RouterModel, dict[str, Any]]:
    """Train on `train` rows, report router and baselines on `test` rows."""
    model = fit(data, train)
    scores = test_scores(model, data, test)
    return model, metrics(scores, data.scores[test, 0], data.scores[test, 1])


def fit(data: Data, rows: NDArray[np.bool_]) -> RouterModel:
    index = np.flatnonzero(rows)
    heads = []
    if data.head:
        # Peer groups come from training rows only: held-out categories stay unseen.
        peers, names = data.peers[index], data.matrix.models
        groups = peer_groups(peers, names, *data.models)
        heads.append(HeadTarget(groups, gain_target(peers, names, groups)))
    return fit_router(
        data.x.take(index),
        data.dense[index],
        data.scores[index],
        list(data.models),
        features=data.config,
        heads=heads,
    )


def test_scores(model: RouterModel, data: Data, rows: NDArray[np.bool_]) -> Floats:
    index = np.flatnonzero(rows)
    return model.gains_batch(data.x.take(index), data.dense[index], *data.models)


def metrics(scores: Floats, q_strong: Floats, q_weak: Floats) -> dict[str, Any]:
    router = evaluate_pair(scores, q_strong, q_weak)
    oracle = evaluate_pair(q_strong - q_weak, q_strong, q_weak)
    return {
        "n": len(scores),
        "router": router.summary(),
        "random": random_baseline(q_strong, q_weak).summary(),
        "oracle": oracle.summary(),
        "always_strong": float(q_strong.mean()),
        "always_weak": float(q_weak.mean()),
    }


def cross_validate(data: Data) -> dict[str, Any]:
    categories = sorted(set(data.categories.tolist()))
    half = len(categories) // 2
    folds = [[categories[i], categories[i + half]] for i in range(half)]
    folds[-1].extend(categories[2 * half :])  # an odd category joins the last fold
    pooled = np.full(data.x.n_rows, np.nan)
    per_fold = []
    for held in folds:
        test = np.isin(data.categories, held)
        model = fit(data, ~test)
        pooled[test] = test_scores(model, data, test)
        result = metrics(pooled[test], data.scores[test, 0], data.scores[test, 1])
        per_fold.append({"held_out": held, **result})
        r = result["router"]
        print(
            f"  fold {' + '.join(held):34} n={result['n']:5d}  APGR {r['apgr']:.3f}  "
            f"CPT50 {r['cpt50']:.1%}  CPT80 {r['cpt80']:.1%}  "
            f"(random {result['random']['apgr']:.3f})"
        )
    mean = {
        key: float(np.mean([f[group][key] for f in per_fold]))
        for group in ("router",)
        for key in ("apgr", "cpt50", "cpt80")
    }
    baselines = {
        group: {
            key: float(np.mean([f[group][key] for f in per_fold]))
            for key in ("apgr", "cpt50", "cpt80")
        }
        for group in ("random", "oracle")
    }
    all_pooled = metrics(pooled, data.scores[:, 0], data.scores[:, 1])
    summary = {"folds": per_fold, "mean": {"router": mean, **baselines}, "pooled": all_pooled}
    print_block(
        "leave-two-categories-out CV, mean over 7 folds",
        {
            "n": data.x.n_rows,
            "router": mean,
            **baselines,
            "always_strong": all_pooled["always_strong"],
            "always_weak": all_pooled["always_weak"],
        },
    )
    print_block("leave-two-categories-out CV, pooled out-of-fold scores", all_pooled)
    return summary


def latency(model: RouterModel, matrix: MmluProMatrix, strong: str, weak: str) -> dict[str, Any]:
    router = LearnedRouter(model, strong=strong, weak=weak)
    prompts, current = [], ""
    for row in range(len(matrix.questions)):
        current += matrix.prompt(row) + "\n\n"
        if len(current) >= 2000:
            prompts.append(current[:2000])
            current = ""
        if len(prompts) == 300:
            break
    for text in prompts[:20]:
        router.score(text)  # warm-up: first calls pay for regex compilation and caches
    timings = []
    for _ in range(3):
        for text in prompts:
            started = time.perf_counter()
            router.score(text)
            timings.append((time.perf_counter() - started) * 1000.0)
    return {
        "p50": float(np.percentile(timings, 50)),
        "p95": float(np.percentile(timings, 95)),
        "calls": len(timings),
        "chars": 2000,
    }


def print_block(title: str, result: dict[str, Any]) -> None:
    print(f"\n{title} (n={result['n']})")
    print(f"  {'':16}{'APGR':>8}{'CPT(50%)':>10}{'CPT(80%)':>10}")
    for name in ("router", "random", "oracle"):
        row = result[name]
        label = "learned router" if name == "router" else name
        print(f"  {label:16}{row['apgr']:8.3f}{row['cpt50']:10.1%}{row['cpt80']:10.1%}")
    print(
        f"  always-strong quality {result['always_strong']:.3f}, "
        f"always-weak quality {result['always_weak']:.3f}"
    )


if __name__ == "__main__":
    main()
