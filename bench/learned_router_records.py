"""From-records learning on a simulated organisation: does its own traffic teach the router?

    OPENBLAS_NUM_THREADS=1 python bench/learned_router_records.py [--matrix ...] [--seed 0]

The organisation's traffic is the MMLU-Pro questions of FIXED_TEST's categories (chemistry,
computer science, history, law, psychology), in a random order. Its first half is served
with exploration (each prompt answered by the strong or the weak model at random) and gets
feedback on half of the requests (the answering model's correctness), written as request
records with content; `examples_from_records` turns them into a training set exactly as
`junction router train --from-records` does. The shipped router is trained on the public data
of the other nine categories. Both are scored on the second half (which neither saw) with
RouteLLM's procedure, using both models' true correctness.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import time

import numpy as np

from router.classify.types import Sensitivity, Task
from router.learned.features import FeatureConfig
from router.stats.records import ClassificationSummary, RequestRecord
from router_training.dataset import dataset_models, quality_matrix
from router_training.evaluate import evaluate_pair, random_baseline
from router_training.fit import featurise, fit_router, train_router
from router_training.mmlu_pro import load_matrix
from router_training.records import ExportedRecord, examples_from_records

FIXED_TEST = ("chemistry", "computer science", "history", "law", "psychology")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", default="/work/shared/data/mmlu_pro_matrix.csv.gz")
    parser.add_argument("--strong", default="gpt-4o-2024-05-13")
    parser.add_argument("--weak", default="Meta-Llama-3_1-8B-Instruct")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    matrix = load_matrix(__import__("pathlib").Path(args.matrix))
    columns = [matrix.column(args.strong), matrix.column(args.weak)]
    scores = matrix.correct[:, columns]
    graded = ~np.isnan(scores).any(axis=1)
    categories = np.array(matrix.categories)
    org = np.flatnonzero(graded & np.isin(categories, FIXED_TEST))
    public = np.flatnonzero(graded & ~np.isin(categories, FIXED_TEST))
    rng = np.random.default_rng(args.seed)
    org = rng.permutation(org)
    first, second = org[: len(org) // 2], org[len(org) // 2 :]

    records = []
    for row in first:
        pick = int(rng.integers(2))  # exploration: either model, at random
        feedback = {"user": float(scores[row, pick])} if rng.random() < 0.5 else {}
        records.append(ExportedRecord(record=_record(int(row), matrix.prompt(int(row)),
                                                     columns_name(args, pick)),
                                      feedback=feedback))
    examples, summary = examples_from_records(records)
    models = dataset_models(examples)
    org_router = train_router([e.text() for e in examples], quality_matrix(examples, models),
                              models)
    print(f"organisation: {len(first)} records in the first half, {summary.used} with feedback; "
          f"{len(second)} prompts in the second half")

    config = FeatureConfig()
    x, dense = featurise([matrix.prompt(int(r)) for r in public], config)
    shipped = fit_router(x, dense, scores[public], [args.strong, args.weak], features=config)
    # Both: the public rows (both models graded) and the organisation's records (one each).
    public_texts = [matrix.prompt(int(r)) for r in public]
    record_scores = quality_matrix(examples, [args.strong, args.weak])
    both = train_router(public_texts + [e.text() for e in examples],
                        np.vstack([scores[public], record_scores]), [args.strong, args.weak])
    texts = [matrix.prompt(int(r)) for r in second]
    x2, dense2 = featurise(texts, config)
    q_strong, q_weak = scores[second, 0], scores[second, 1]
    results = {
        "shipped (public data, other categories)": shipped.gains_batch(
            x2, dense2, args.strong, args.weak),
        "from the organisation's records": org_router.gains_batch(
            x2, dense2, args.strong, args.weak),
        "public data + the organisation's records": both.gains_batch(
            x2, dense2, args.strong, args.weak),
    }
    print(f"\nsecond half (n={len(second)}), {args.strong} vs {args.weak}")
    print(f"  {'':42}{'APGR':>8}{'CPT(50%)':>10}{'CPT(80%)':>10}")
    for name, s in results.items():
        m = evaluate_pair(s, q_strong, q_weak)
        print(f"  {name:42}{m.apgr:8.3f}{m.cpt50:10.1%}{m.cpt80:10.1%}")
    r = random_baseline(q_strong, q_weak)
    print(f"  {'random (20 seeds)':42}{r.apgr:8.3f}{r.cpt50:10.1%}{r.cpt80:10.1%}")
    print(f"\n({time.perf_counter() - started:.0f} s)")


def columns_name(args: argparse.Namespace, pick: int) -> str:
    return str(args.strong if pick == 0 else args.weak)


def _record(row: int, prompt: str, model: str) -> RequestRecord:
    return RequestRecord(
        request_id=f"q{row}",
        time=0.0,
        route="smart",
        classification=ClassificationSummary(
            task=Task.REASONING, difficulty=0.5, sensitivity=Sensitivity.NONE
        ),
        answered_by=model,
        total_ms=0.0,
        status=200,
        prompt=prompt,
    )


if __name__ == "__main__":
    main()
