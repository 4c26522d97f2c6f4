"""PNG plots of the offline evaluation; matplotlib is imported only when a plot is drawn."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from router_training.evaluate import CurvePoint, MultiModelResult, upper_hull

__all__ = ["plot_cost_quality", "plot_pair"]


def _pyplot() -> Any:
    # Imported here: plotting is optional (the `plot` extra) and Agg needs no display.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_pair(
    curves: Mapping[str, Sequence[CurvePoint]],
    *,
    strong: str,
    weak: str,
    path: Path,
) -> None:
    """PGR against the share of strong calls, one line per router or baseline."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 5))
    for label, curve in curves.items():
        axes.plot(
            [100 * p.strong_share for p in curve], [p.pgr for p in curve], marker=".", label=label
        )
    axes.axhline(0.0, color="grey", linestyle="--", label=f"always {weak}")
    axes.axhline(1.0, color="red", linestyle="--", label=f"always {strong}")
    axes.set_xlabel(f"calls to {strong} (%)")
    axes.set_ylabel("performance gap recovered (PGR)")
    axes.set_title(f"{strong} vs {weak}")
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_cost_quality(result: MultiModelResult, *, path: Path) -> None:
    """Mean quality against mean cost: the router's sweep and hull, single models, the oracle."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 5))
    router = [(p.cost, p.quality) for p in result.router_points]
    axes.scatter([c for c, _ in router], [q for _, q in router], s=10, label="router sweep")
    hull = upper_hull(router)
    axes.plot(
        [c for c, _ in hull],
        [q for _, q in hull],
        label=f"router hull (AIQ {result.router_aiq:.3f})",
    )
    for point in result.model_points:
        axes.scatter([point.cost], [point.quality], marker="s")
        axes.annotate(point.label, (point.cost, point.quality), fontsize=7)
    singles = upper_hull([(p.cost, p.quality) for p in result.model_points])
    axes.plot(
        [c for c, _ in singles],
        [q for _, q in singles],
        linestyle="--",
        label=f"single models (AIQ {result.single_models_aiq:.3f})",
    )
    axes.scatter([result.oracle.cost], [result.oracle.quality], marker="*", s=80, label="oracle")
    axes.set_xlabel("mean cost per prompt ($)")
    axes.set_ylabel("mean quality")
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
