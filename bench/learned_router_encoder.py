"""A bundled static sentence encoder (wordllama) as router features: alone and with today's.

    pip install 'wordllama>=0.4,<0.5'   # not a Junction dependency; only this benchmark uses it
    OPENBLAS_NUM_THREADS=1 python bench/learned_router_encoder.py [--matrix ...] [--skip-cv]

wordllama ships its 256-dimensional `l2_supercat` weights and tokenizer inside the wheel; it is
loaded with `disable_download=True` from the package's own folder (its default `load()` looks
for the tokenizer in a misspelt folder and then tries Hugging Face). Per held-out set: APGR
of today's router, of per-model logistic regressions on the embedding alone, and on today's
features plus the embedding; then the encoder's load time, per-prompt latency and memory.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))
import learned_router as lr

from router.learned.features import FeatureConfig
from router.learned.model import sigmoid
from router.learned.sparse import SparseRows
from router_training.evaluate import evaluate_pair
from router_training.logistic import fit_logistic

Floats = NDArray[np.float64]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", type=Path, default=lr.DEFAULT_MATRIX)
    parser.add_argument("--skip-cv", action="store_true", help="only the fixed split")
    args = parser.parse_args()
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError:
        raise SystemExit("install wordllama first: pip install 'wordllama>=0.4,<0.5'") from None
    started = time.perf_counter()
    encoder = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    print(f"loaded in {time.perf_counter() - started:.2f}s, RSS {_rss_mb()} MB")
    matrix = lr.load_matrix(args.matrix)
    strong, weak = "gpt-4o-2024-05-13", "Meta-Llama-3_1-8B-Instruct"
    data = lr.prepare(matrix, FeatureConfig(), strong, weak, head=True)
    columns = [matrix.column(strong), matrix.column(weak)]
    graded = np.flatnonzero(~np.isnan(matrix.correct[:, columns]).any(axis=1))
    texts = [matrix.prompt(int(row)) for row in graded]
    embedding = np.asarray(encoder.embed(texts), dtype=np.float64)
    timings = []
    for text in texts[:300]:
        begin = time.perf_counter()
        encoder.embed([text[:2000]])
        timings.append((time.perf_counter() - begin) * 1000.0)
    print(f"embed one prompt (<= 2,000 chars): p50 {np.percentile(timings, 50):.2f} ms, "
          f"p95 {np.percentile(timings, 95):.2f} ms; RSS {_rss_mb()} MB")
    splits = [("fixed split", np.isin(data.categories, lr.FIXED_TEST))]
    if not args.skip_cv:
        categories = sorted(set(data.categories.tolist()))
        half = len(categories) // 2
        for i in range(half):
            pair = [categories[i], categories[i + half]]
            splits.append((" + ".join(pair), np.isin(data.categories, pair)))
    both = np.hstack([data.dense.astype(np.float64), embedding])
    q_strong, q_weak = data.scores[:, 0], data.scores[:, 1]
    print("APGR: today / embedding alone / today + embedding")
    for name, test in splits:
        today = lr.test_scores(lr.fit(data, ~test), data, test)
        alone = _gains(data, ~test, test, embedding, sparse=False)
        combined = _gains(data, ~test, test, both, sparse=True)
        apgrs = [evaluate_pair(s, q_strong[test], q_weak[test]).apgr
                 for s in (today, alone, combined)]
        print(f"  {name:36} " + "  ".join(f"{a:.3f}" for a in apgrs))


def _gains(
    data: lr.Data, train: NDArray[np.bool_], test: NDArray[np.bool_], dense: Floats, *,
    sparse: bool,
) -> Floats:
    """P(strong) - P(weak) from one logistic regression per model."""
    mean, scale = dense[train].mean(axis=0), dense[train].std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = np.clip((dense - mean) / scale, -3.0, 3.0)
    empty = [(np.zeros(0, np.int64), np.zeros(0, np.float32))] * data.x.n_rows
    x = data.x if sparse else SparseRows.from_rows(empty, 1)
    train_rows, test_rows = np.flatnonzero(train), np.flatnonzero(test)
    probabilities = []
    for k in range(2):
        fit = fit_logistic(x.take(train_rows), z[train_rows], data.scores[train_rows, k],
                           l2=1e-3, dense_l2=1e-2, max_iter=300)
        probabilities.append(sigmoid(fit.decision(x.take(test_rows), z[test_rows])))
    result: Floats = probabilities[0] - probabilities[1]
    return result


def _rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


if __name__ == "__main__":
    main()
