"""Peer groups and the gain target a pair head learns from."""

from __future__ import annotations

import numpy as np
import pytest

from router_training.peers import gain_target, peer_groups

NAN = np.nan
MODELS = ["top", "near-top", "mid", "low", "near-low", "bottom"]
# Mean scores: top 0.9, near-top 0.9, mid 0.6, low 0.3, near-low 0.33 (one unscored), bottom 0.
SCORES = np.array(
    [
        [1, 1, 1, 1, 1, 0],
        [1, 1, 1, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [1, 0, 0, 0, NAN, 0],
        [1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 0, 0],
        [1, 1, 1, 0, 1, 0],
        [1, 1, 0, 0, 0, 0],
        [1, 1, 1, 1, 1, 0],
        [0, 1, 0, 0, 0, 0],
    ],
    dtype=np.float64,
)


def test_groups_hold_the_models_close_to_each_side_of_the_pair() -> None:
    groups = peer_groups(SCORES, MODELS, "top", "low")
    assert groups.strong_group == ("top", "near-top")
    assert groups.weak_group == ("low", "near-low")


def test_gain_is_strong_group_mean_minus_weak_group_mean() -> None:
    groups = peer_groups(SCORES, MODELS, "top", "low")
    gain = gain_target(SCORES, MODELS, groups)
    assert gain[0] == pytest.approx(0.0)
    assert gain[1] == pytest.approx(1.0)
    assert gain[3] == pytest.approx(0.5)  # near-low is unscored there: low alone stands for it
    assert np.all((gain >= -1) & (gain <= 1))


def test_with_only_the_pair_the_gain_is_the_quality_difference() -> None:
    pair = SCORES[:, [0, 3]]
    groups = peer_groups(pair, ["top", "low"], "top", "low")
    assert (groups.strong_group, groups.weak_group) == (("top",), ("low",))
    assert np.array_equal(gain_target(pair, ["top", "low"], groups), pair[:, 0] - pair[:, 1])


def test_unscored_rows_give_nan_and_errors_name_the_model() -> None:
    pair = np.array([[1.0, NAN], [1.0, 0.0]])
    groups = peer_groups(pair, ["a", "b"], "a", "b")
    assert np.isnan(gain_target(pair, ["a", "b"], groups)[0])
    with pytest.raises(ValueError, match="strong model 'c' has no scores"):
        peer_groups(pair, ["a", "b"], "c", "b")
    with pytest.raises(ValueError, match="must differ"):
        peer_groups(pair, ["a", "b"], "a", "a")
