"""What `junction router train|eval|calibrate` do; `cli.py` parses their arguments.

junction router train --data d.jsonl --out routers/r [--models a,b] [--pair STRONG,WEAK]
junction router eval --data d.jsonl --router routers/r --strong A --weak B [--json] [--plot p.png]
junction router eval --data d.jsonl --router routers/r --models a,b,c [--json] [--plot p.png]
junction router calibrate --data d.jsonl --router routers/r --strong-share 0.3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from router.errors import PolicyError
from router.learned.model import RouterError, RouterModel, TrainOptions
from router.learned.runtime import LearnedRouter
from router_training.calibrate import threshold_for_pgr, threshold_for_share
from router_training.dataset import (
    DatasetError,
    RoutingExample,
    cost_matrix,
    dataset_models,
    load_dataset,
    quality_matrix,
)
from router_training.evaluate import (
    MultiModelResult,
    evaluate_multi,
    evaluate_pair,
    random_baseline,
)
from router_training.fit import HeadTarget, featurise, train_router
from router_training.peers import gain_target, peer_groups

__all__ = [
    "calibrate_command",
    "compare_command",
    "eval_command",
    "export_command",
    "train_command",
]

Floats = NDArray[np.float64]


def train_command(args: argparse.Namespace) -> int:
    """`junction router train`."""
    return _guarded(_train, args)


def eval_command(args: argparse.Namespace) -> int:
    """`junction router eval`."""
    return _guarded(_eval, args)


def calibrate_command(args: argparse.Namespace) -> int:
    """`junction router calibrate`."""
    return _guarded(_calibrate, args)


def compare_command(args: argparse.Namespace) -> int:
    """`junction router compare`."""
    return _guarded(_compare, args)


def _compare(args: argparse.Namespace) -> int:
    from router_training.compare import replay, strong_mask
    from router_training.records import JsonlRecords, examples_from_records

    examples, summary = examples_from_records(
        JsonlRecords(args.records).read(), exclude_routes=_policy_exclusions(args.policy)
    )
    models = {name: RouterModel.load(getattr(args, name)) for name in ("active", "candidate")}
    routers = {
        name: LearnedRouter(model, strong=args.strong, weak=args.weak)
        for name, model in models.items()
    }
    pairs = {(r.strong, r.weak) for r in routers.values()}
    if len(pairs) != 1:
        raise ValueError(f"the routers route different pairs {sorted(pairs)}; pass --strong/--weak")
    strong, weak = pairs.pop()
    kept = [e for e in examples if set(e.scores) <= {strong, weak}]
    if not kept:
        raise DatasetError(f"{args.records}: no usable record answered by {strong!r} or {weak!r}")
    by_strong = strong_mask([next(iter(e.scores)) for e in kept], strong, weak)
    quality = np.array([next(iter(e.scores.values())) for e in kept], dtype=np.float64)
    report: dict[str, Any] = {"n": len(kept), "strong": strong, "weak": weak,
                              "left_out_sensitive": summary.sensitive}
    for name, router in routers.items():
        scores = _pair_scores(models[name], kept, router)
        report[name] = replay(scores, by_strong, quality, threshold=router.threshold).summary()
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{strong} (strong) vs {weak} (weak), replayed on {len(kept)} recorded prompts "
          f"({int(by_strong.sum())} answered by the strong model)")
    print(f"{'':12}{'APGR':>8}{'CPT(50%)':>10}{'CPT(80%)':>10}{'strong share':>14}")
    for name in ("active", "candidate"):
        row = report[name]
        share = "n/a" if row["strong_share"] is None else f"{row['strong_share']:.1%}"
        print(f"{name:12}{row['apgr']:8.3f}{row['cpt50']:10.1%}{row['cpt80']:10.1%}{share:>14}")
    return 0


def export_command(args: argparse.Namespace) -> int:
    """`junction records export`."""
    return _guarded(_export, args)


def _export(args: argparse.Namespace) -> int:
    from router.stats.redis_codec import REDIS_FAILURES
    from router_training.export import export_from_redis

    try:
        written = export_from_redis(
            args.redis_url, args.prefix, args.out, exclude_routes=_policy_exclusions(args.policy)
        )
    except REDIS_FAILURES as exc:
        raise ValueError(f"cannot read records from Redis at {args.redis_url}: {exc}") from exc
    print(f"wrote {written} records (sensitive ones and excluded routes left out) to {args.out}")
    return 0


def _policy_exclusions(path: Path | None) -> frozenset[str]:
    if path is None:
        return frozenset()
    from router.policy.loader import load_policy
    from router_training.records import excluded_routes

    policy = load_policy(path)
    return excluded_routes(
        (route.name, route.scorer.training) for route in policy.routes if route.scorer
    )


def _train(args: argparse.Namespace) -> int:
    examples = _training_examples(args)
    models = args.models or dataset_models(examples)
    _require_scored(examples, models)
    started = time.perf_counter()
    options = TrainOptions(l2=args.l2, min_df=args.min_df)
    heads = _pair_heads(examples, models, args.pair)
    model = train_router(
        [e.text() for e in examples],
        quality_matrix(examples, models),
        models,
        options=options,
        heads=heads,
    )
    model.save(args.out)
    print(
        f"trained {len(models)} predictors on {len(examples)} prompts in "
        f"{time.perf_counter() - started:.1f}s -> {args.out}"
    )
    for card in model.manifest.models:
        print(
            f"  {card.name}: {card.n_train} scored, mean {card.mean_score:.3f}, "
            f"{card.iterations} iterations"
        )
    for head in model.manifest.heads:
        print(
            f"  pair head {head.strong} over {head.weak}: {head.n_train} scored, "
            f"peers {len(head.strong_group)} strong / {len(head.weak_group)} weak, "
            f"mean gain {head.mean_gain:.3f}, {head.iterations} iterations"
        )
    return 0


def _training_examples(args: argparse.Namespace) -> list[RoutingExample]:
    if args.data is None and args.from_records is None:
        raise ValueError("give --data, --from-records or both")
    public = [] if args.data is None else load_dataset(args.data, score_scale=args.score_scale)
    if args.from_records is None:
        return public
    from router_training.records import JsonlRecords, examples_from_records

    excluded = frozenset(args.exclude_route or ()) | _policy_exclusions(args.policy)
    examples, summary = examples_from_records(
        JsonlRecords(args.from_records).read(), exclude_routes=excluded
    )
    print(
        f"records: {summary.used} used; left out {summary.sensitive} sensitive, "
        f"{summary.excluded_route} on excluded routes, {summary.no_prompt} without content, "
        f"{summary.no_feedback} without feedback"
    )
    if not examples:
        raise DatasetError(f"{args.from_records}: no record has content and feedback to learn from")
    taken = {e.id for e in public}
    # Record ids are request ids; one that repeats a dataset id would be a different prompt.
    return public + [e.model_copy(update={"id": f"record:{e.id}"}) if e.id in taken else e
                     for e in examples]


def _pair_heads(
    examples: Sequence[RoutingExample], models: Sequence[str], pair: Sequence[str] | None
) -> list[HeadTarget]:
    """The pair head to fit: `--pair`, or by default the two models when there are two (better
    first) and the data grades other models as peers."""
    # Peers come from every model the data scores, not only those given predictors.
    everyone = dataset_models(examples)
    if pair is None:
        # Without peers the head's target is the pair's own difference: no better than P(s) - P(w)
        # on held-out MMLU-Pro categories, so it is not fitted unless asked for.
        if len(models) != 2 or len(everyone) <= 2:
            return []
        means = np.nanmean(quality_matrix(examples, models), axis=0)
        pair = list(models) if means[0] >= means[1] else list(models)[::-1]
    if len(pair) != 2 or not set(pair) <= set(models):
        raise ValueError(f"--pair needs two of the trained models {list(models)}; got {pair}")
    scores = quality_matrix(examples, everyone)
    groups = peer_groups(scores, everyone, pair[0], pair[1])
    return [HeadTarget(groups, gain_target(scores, everyone, groups))]


def _eval(args: argparse.Namespace) -> int:
    examples = load_dataset(args.data, score_scale=args.score_scale)
    model = RouterModel.load(args.router)
    if args.models and (args.strong or args.weak):
        raise ValueError("give either --strong/--weak (pair mode) or --models (multi mode)")
    if args.models:
        return _eval_multi(examples, model, args)
    stored = model.manifest.calibration
    asked = (args.strong or stored.strong, args.weak or stored.weak) if stored else None
    if stored is not None and asked != (stored.strong, stored.weak):
        model = model.with_calibration(None)  # its threshold is for another pair
    router = LearnedRouter(model, strong=args.strong, weak=args.weak)
    kept, q_strong, q_weak = _pair_rows(examples, router.strong, router.weak)
    scores = _pair_scores(model, kept, router)
    metrics = evaluate_pair(scores, q_strong, q_weak)
    random = random_baseline(q_strong, q_weak)
    oracle = evaluate_pair(q_strong - q_weak, q_strong, q_weak)
    report: dict[str, Any] = {
        "router": metrics.summary(),
        "latency_ms": _scoring_latency(router, kept),
        "baselines": {
            "random": random.summary(),
            "oracle": oracle.summary(),
            "always_strong": {"quality": float(q_strong.mean()), "strong_share": 1.0, "pgr": 1.0},
            "always_weak": {"quality": float(q_weak.mean()), "strong_share": 0.0, "pgr": 0.0},
        },
        "n": len(kept),
        "strong": router.strong,
        "weak": router.weak,
    }
    if router.threshold is not None:
        routed = scores >= router.threshold
        gap = float(q_strong.mean() - q_weak.mean())
        quality = float(np.where(routed, q_strong, q_weak).mean())
        report["calibrated"] = {
            "threshold": router.threshold,
            "strong_share": float(routed.mean()),
            "pgr": (quality - float(q_weak.mean())) / gap if gap else None,
        }
    if args.plot:
        from router_training.plots import plot_pair

        curves = {"learned router": metrics.curve, "random": random.curve, "oracle": oracle.curve}
        plot_pair(curves, strong=router.strong, weak=router.weak, path=args.plot)
    if args.json:
        print(json.dumps(report))
    else:
        _print_pair(report, skipped=len(examples) - len(kept))
    return 0


def _eval_multi(
    examples: list[RoutingExample], model: RouterModel, args: argparse.Namespace
) -> int:
    models: list[str] = args.models
    if len(models) < 2:
        raise ValueError(f"--models needs at least two models; got {models}")
    columns = [model.index(m) for m in models]
    quality, cost = quality_matrix(examples, models), cost_matrix(examples, models)
    complete = ~(np.isnan(quality).any(axis=1) | np.isnan(cost).any(axis=1))
    if not complete.any():
        raise ValueError(f"no prompt has a score and a cost for all of {models}")
    kept = [examples[i] for i in np.flatnonzero(complete)]
    predicted = _probabilities(model, kept)[:, columns]
    result = evaluate_multi(predicted, quality[complete], cost[complete], models)
    if args.plot:
        from router_training.plots import plot_cost_quality

        plot_cost_quality(result, path=args.plot)
    report = _multi_report(result, len(kept))
    if args.json:
        print(json.dumps(report))
    else:
        _print_multi(report, skipped=len(examples) - len(kept))
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    examples = load_dataset(args.data, score_scale=args.score_scale)
    model = RouterModel.load(args.router)
    strong, weak, previous = args.strong, args.weak, model.manifest.calibration
    if strong is None and weak is None and previous is not None:
        strong, weak = previous.strong, previous.weak  # recalibrating keeps the pair
    router = LearnedRouter(model.with_calibration(None), strong=strong, weak=weak)
    if args.target_pgr is not None:
        kept, q_strong, q_weak = _pair_rows(examples, router.strong, router.weak)
        scores = _pair_scores(model, kept, router)
        calibration = threshold_for_pgr(
            scores, q_strong, q_weak, router.strong, router.weak, args.target_pgr
        )
    else:
        # A strong share needs no labels: every prompt counts, scored or not (the PGR reported
        # beside it uses the prompts scored for both models).
        scores = _pair_scores(model, examples, router)
        calibration = threshold_for_share(
            scores,
            router.strong,
            router.weak,
            args.strong_share,
            q_strong=_column(examples, router.strong),
            q_weak=_column(examples, router.weak),
        )
    model.with_calibration(calibration).save(args.router)
    if args.json:
        print(calibration.model_dump_json())
    else:
        pgr = "n/a" if calibration.pgr is None else f"{calibration.pgr:.3f}"
        print(
            f"threshold {calibration.threshold:.4f} for {calibration.target} "
            f"{calibration.target_value}: strong share {calibration.strong_share:.3f}, "
            f"PGR {pgr} on {calibration.n} prompts -> {args.router / 'router.json'}"
        )
    return 0


def _probabilities(model: RouterModel, examples: Sequence[RoutingExample]) -> Floats:
    x, dense = featurise([e.text() for e in examples], model.manifest.features)
    return model.probabilities_batch(x, dense)


def _pair_scores(
    model: RouterModel, examples: Sequence[RoutingExample], router: LearnedRouter
) -> Floats:
    x, dense = featurise([e.text() for e in examples], model.manifest.features)
    return model.gains_batch(x, dense, router.strong, router.weak)


def _scoring_latency(
    router: LearnedRouter, examples: Sequence[RoutingExample], calls: int = 200
) -> dict[str, float]:
    """p50/p95 of `LearnedRouter.score`, one prompt per call as the gateway calls it."""
    texts = [e.text() for e in examples[:calls]]
    for text in texts[:10]:
        router.score(text)  # warm-up: the first calls pay for regex compilation
    timings = []
    for text in texts:
        started = time.perf_counter()
        router.score(text)
        timings.append((time.perf_counter() - started) * 1000.0)
    return {
        "p50": float(np.percentile(timings, 50)),
        "p95": float(np.percentile(timings, 95)),
        "calls": float(len(timings)),
    }


def _pair_rows(
    examples: Sequence[RoutingExample], strong: str, weak: str
) -> tuple[list[RoutingExample], Floats, Floats]:
    kept = [e for e in examples if strong in e.scores and weak in e.scores]
    if not kept:
        raise ValueError(f"no prompt has scores for both {strong!r} and {weak!r}")
    return kept, _column(kept, strong), _column(kept, weak)


def _column(examples: Sequence[RoutingExample], model: str) -> Floats:
    """The model's scores, NaN where a prompt has none."""
    return np.array([e.scores.get(model, np.nan) for e in examples], dtype=np.float64)


def _require_scored(examples: Sequence[RoutingExample], models: Sequence[str]) -> None:
    known = set(dataset_models(examples))
    unknown = [m for m in models if m not in known]
    if unknown:
        raise ValueError(f"models {unknown} have no scores in the data; scored: {sorted(known)}")


def _multi_report(result: MultiModelResult, n: int) -> dict[str, Any]:
    return {
        "router": {
            "aiq": result.router_aiq,
            "points": [{"cost": p.cost, "quality": p.quality} for p in result.router_points],
        },
        "baselines": {
            "single_models": {"aiq": result.single_models_aiq},
            "oracle": {"cost": result.oracle.cost, "quality": result.oracle.quality},
            "models": {
                p.label: {"cost": p.cost, "quality": p.quality} for p in result.model_points
            },
        },
        "cost_range": list(result.cost_range),
        "n": n,
    }


def _print_pair(report: dict[str, Any], *, skipped: int) -> None:
    print(
        f"{report['strong']} (strong) vs {report['weak']} (weak) on {report['n']} prompts"
        + (f" ({skipped} without both scores skipped)" if skipped else "")
    )
    print(f"{'':16}{'APGR':>8}{'CPT(50%)':>10}{'CPT(80%)':>10}")
    rows = [("learned router", report["router"])] + [
        (name, report["baselines"][name]) for name in ("random", "oracle")
    ]
    for name, row in rows:
        print(f"{name:16}{row['apgr']:8.3f}{row['cpt50']:10.1%}{row['cpt80']:10.1%}")
    for name in ("always_strong", "always_weak"):
        row = report["baselines"][name]
        print(f"{name:16}quality {row['quality']:.3f}")
    latency = report["latency_ms"]
    print(
        f"scoring latency per prompt: p50 {latency['p50']:.2f} ms, p95 {latency['p95']:.2f} ms "
        f"({latency['calls']:.0f} calls)"
    )
    if "calibrated" in report:
        cal = report["calibrated"]
        pgr = "n/a" if cal["pgr"] is None else f"{cal['pgr']:.3f}"
        print(
            f"calibrated threshold {cal['threshold']:.4f}: strong share "
            f"{cal['strong_share']:.1%}, PGR {pgr}"
        )


def _print_multi(report: dict[str, Any], *, skipped: int) -> None:
    print(
        f"{len(report['baselines']['models'])} models on {report['n']} prompts"
        + (f" ({skipped} incomplete prompts skipped)" if skipped else "")
    )
    print(
        f"learned router AIQ {report['router']['aiq']:.4f}; "
        f"single models AIQ {report['baselines']['single_models']['aiq']:.4f}"
    )
    for name, point in report["baselines"]["models"].items():
        print(f"  {name:32} quality {point['quality']:.3f}  cost ${point['cost']:.6f}")
    oracle = report["baselines"]["oracle"]
    print(f"  {'oracle':32} quality {oracle['quality']:.3f}  cost ${oracle['cost']:.6f}")


def _guarded(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        result: int = command(args)
    except (DatasetError, RouterError, PolicyError, ValueError) as exc:
        print(f"junction router: error: {exc}", file=sys.stderr)
        return 2
    return result
