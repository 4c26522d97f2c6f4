"""The learned score against simple signals, and a stacked model over all of them, per held-out set.

    OPENBLAS_NUM_THREADS=1 python bench/learned_router_signals.py [--matrix ...]

Signals per question: the learned router's score (trained on the training categories), log
prompt length, and the rule classifier's difficulty and task. The stacked model is a logistic
regression over [learned score, log length, difficulty, task one-hot] on the training
categories, with the learned score taken out of fold (3 folds by category) so that it is as
good there as on unseen data. Sets: the fixed split, three leave-two-categories-out folds, and
within them the `math` category, its high-school and grade-school-like parts.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))
import learned_router as lr

from router.classify.classifier import RuleClassifier
from router.learned.features import FeatureConfig
from router.learned.sparse import SparseRows
from router_training.evaluate import evaluate_pair
from router_training.logistic import fit_logistic

Floats = NDArray[np.float64]
SUBSETS = {
    "math": ("category", "math"),
    "hs_math": ("src", "ori_mmlu-high_school_mathematics"),
    "grade_school": ("src", "ori_mmlu-elementary_mathematics"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", type=Path, default=lr.DEFAULT_MATRIX)
    args = parser.parse_args()
    matrix = lr.load_matrix(args.matrix)
    strong, weak = "gpt-4o-2024-05-13", "Meta-Llama-3_1-8B-Instruct"
    data = lr.prepare(matrix, FeatureConfig(), strong, weak, head=True)
    columns = [matrix.column(strong), matrix.column(weak)]
    graded = np.flatnonzero(~np.isnan(matrix.correct[:, columns]).any(axis=1))
    classifier = RuleClassifier()
    tasks, difficulty = [], []
    for row in graded:
        body = {"model": "auto", "messages": [{"role": "user", "content": matrix.prompt(int(row))}]}
        result = classifier.classify(body)
        tasks.append(result.task.value)
        difficulty.append(result.difficulty)
    signals = Signals(
        np.array(tasks),
        np.array(difficulty),
        np.log1p([len(matrix.prompt(int(r))) for r in graded]),
        np.array(matrix.sources)[graded],
    )
    held_out = [("fixed split", np.isin(data.categories, lr.FIXED_TEST))]
    for pair in (["math", "physics"], ["biology", "economics"], ["business", "engineering"]):
        held_out.append((" + ".join(pair), np.isin(data.categories, pair)))
    for name, test in held_out:
        run(data, signals, name, test)


class Signals:
    def __init__(self, tasks: NDArray[np.str_], difficulty: Floats, loglen: Floats,
                 sources: NDArray[np.str_]) -> None:
        self.tasks, self.difficulty, self.loglen, self.sources = tasks, difficulty, loglen, sources
        self.task_names = sorted(set(tasks.tolist()))

    def matrix(self, gain: Floats, rows: NDArray[np.int64]) -> Floats:
        onehot = (self.tasks[rows][:, None] == np.array(self.task_names)[None, :]).astype(float)
        return np.column_stack([gain, self.loglen[rows], self.difficulty[rows], onehot])


def out_of_fold(data: lr.Data, train: NDArray[np.int64], k: int = 3) -> Floats:
    categories = sorted(set(data.categories[train].tolist()))
    out = np.full(data.x.n_rows, np.nan)
    for fold in range(k):
        held = np.isin(data.categories[train], categories[fold::k])
        fit_rows = np.zeros(data.x.n_rows, dtype=bool)
        fit_rows[train[~held]] = True
        score_rows = np.zeros(data.x.n_rows, dtype=bool)
        score_rows[train[held]] = True
        out[score_rows] = lr.test_scores(lr.fit(data, fit_rows), data, score_rows)
    return out[train]


def stack(x: Floats, target: Floats) -> Callable[[Floats], Floats]:
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    empty = SparseRows.from_rows([(np.zeros(0, np.int64), np.zeros(0, np.float32))] * len(x), 1)
    fit = fit_logistic(empty, (x - mean) / scale, target, l2=1e-2, dense_l2=1e-2, max_iter=300)
    return lambda new: ((new - mean) / scale) @ fit.dense + fit.bias


def run(data: lr.Data, signals: Signals, name: str, test: NDArray[np.bool_]) -> None:
    train_rows, test_rows = np.flatnonzero(~test), np.flatnonzero(test)
    q_strong, q_weak = data.scores[:, 0], data.scores[:, 1]
    learned = lr.test_scores(lr.fit(data, ~test), data, test)
    target = (1.0 + q_strong[train_rows] - q_weak[train_rows]) / 2.0
    predict = stack(signals.matrix(out_of_fold(data, train_rows), train_rows), target)
    stacked = predict(signals.matrix(learned, test_rows))
    print(f"\n{name} (n={len(test_rows)})   APGR: learned / length / difficulty / stacked")
    subsets = {"all": np.ones(len(test_rows), dtype=bool)}
    for label, (field, value) in SUBSETS.items():
        column = data.categories if field == "category" else signals.sources
        subsets[label] = column[test_rows] == value
    for label, mask in subsets.items():
        rows = test_rows[mask]
        if len(rows) < 50 or q_strong[rows].mean() == q_weak[rows].mean():
            continue
        values = [learned[mask], signals.loglen[rows], signals.difficulty[rows], stacked[mask]]
        apgrs = [evaluate_pair(v, q_strong[rows], q_weak[rows]).apgr for v in values]
        print(f"  {label:14} n={len(rows):5d}  " + "  ".join(f"{a:.3f}" for a in apgrs))


if __name__ == "__main__":
    main()
