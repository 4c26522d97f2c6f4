"""Training, save/load round trip, and the runtime router the gateway calls."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from router.learned.features import FeatureConfig
from router.learned.model import RouterError, RouterModel, TrainOptions
from router.learned.runtime import LearnedRouter
from router_training.calibrate import threshold_for_pgr, threshold_for_share
from router_training.fit import HeadTarget, featurise, train_router
from router_training.peers import gain_target, peer_groups

# Long arithmetic prompts: the big model is right, the small one wrong; short ones both right.
TEXTS = [f"Compute {i} * {i + 3} + {2 * i} and explain each step carefully." for i in range(30)] + [
    f"What colour is item {i}?" for i in range(30)
]
SCORES = np.array([[1.0, 0.0]] * 30 + [[1.0, 1.0]] * 30)
FEATURES = FeatureConfig(bucket_bits=12)


@pytest.fixture(scope="module")
def model() -> RouterModel:
    return train_router(
        TEXTS, SCORES, ["big", "small"], features=FEATURES, options=TrainOptions(l2=1e-2)
    )


def test_predictors_learn_which_prompts_need_the_big_model(model: RouterModel) -> None:
    router = LearnedRouter(model)
    assert (router.strong, router.weak) == ("big", "small")
    hard = router.score("Compute 7 * 10 + 14 and explain each step carefully.")
    easy = router.score("What colour is item 99?")
    assert hard > 0.3 > easy
    probabilities = router.predict("What colour is item 3?")
    assert set(probabilities) == {"big", "small"}
    assert all(0.0 < p < 1.0 for p in probabilities.values())


def test_save_and_load_round_trip(model: RouterModel, tmp_path: Path) -> None:
    model.save(tmp_path / "r")
    loaded = RouterModel.load(tmp_path / "r")
    assert loaded.manifest == model.manifest
    x, dense = featurise(TEXTS, FEATURES)
    assert np.array_equal(loaded.probabilities_batch(x, dense), model.probabilities_batch(x, dense))
    single = loaded.probabilities(loaded.features(TEXTS[0]))
    assert single == pytest.approx(model.probabilities_batch(x, dense)[0])


def test_loading_refuses_other_versions_and_missing_arrays(
    model: RouterModel, tmp_path: Path
) -> None:
    model.save(tmp_path / "r")
    manifest = json.loads((tmp_path / "r/router.json").read_text())
    (tmp_path / "r/router.json").write_text(json.dumps({**manifest, "version": 99}))
    with pytest.raises(RouterError, match="version 99 is not supported"):
        RouterModel.load(tmp_path / "r")
    (tmp_path / "r/router.json").write_text(json.dumps(manifest))
    (tmp_path / "r/dense_weights.npy").unlink()
    with pytest.raises(RouterError, match="cannot read the weight arrays"):
        RouterModel.load(tmp_path / "r")
    with pytest.raises(RouterError, match="cannot read the router manifest"):
        RouterModel.load(tmp_path / "absent")


def test_needs_strong_follows_the_calibrated_threshold(model: RouterModel) -> None:
    router = LearnedRouter(model)
    with pytest.raises(RouterError, match="no threshold"):
        router.needs_strong("anything")
    x, dense = featurise(TEXTS, FEATURES)
    p = model.probabilities_batch(x, dense)
    scores = p[:, 0] - p[:, 1]
    calibration = threshold_for_share(
        scores, "big", "small", 0.5, q_strong=SCORES[:, 0], q_weak=SCORES[:, 1]
    )
    assert calibration.strong_share == pytest.approx(0.5)
    assert calibration.pgr == pytest.approx(1.0)
    calibrated = LearnedRouter(model.with_calibration(calibration))
    routed = [calibrated.needs_strong(text) for text in TEXTS]
    # The prompt at the threshold may round either way between the batch and single paths.
    assert 29 <= sum(routed) <= 31
    assert all(routed[1:29]) and not any(routed[31:])
    by_pgr = threshold_for_pgr(scores, SCORES[:, 0], SCORES[:, 1], "big", "small", 0.8)
    assert by_pgr.pgr is not None and by_pgr.pgr >= 0.8
    assert by_pgr.strong_share <= 0.5


def test_a_share_of_zero_sends_nothing_and_survives_json(
    model: RouterModel, tmp_path: Path
) -> None:
    calibration = threshold_for_share(np.array([0.1, 0.5]), "big", "small", 0.0)
    assert calibration.strong_share == 0.0
    model.with_calibration(calibration).save(tmp_path / "r")
    assert RouterModel.load(tmp_path / "r").manifest.calibration == calibration


def test_the_router_names_unknown_models_and_mismatched_calibrations(model: RouterModel) -> None:
    with pytest.raises(RouterError, match="'huge' is not in this router"):
        LearnedRouter(model, strong="huge", weak="small")
    calibration = threshold_for_share(np.array([0.1]), "small", "big", 0.5)
    with pytest.raises(RouterError, match="calibration is for strong='small'"):
        LearnedRouter(model.with_calibration(calibration), strong="big", weak="small")


def test_scoring_a_chat_uses_the_last_user_message(model: RouterModel) -> None:
    router = LearnedRouter(model)
    messages = [{"role": "user", "content": "hello"}, {"role": "user", "content": TEXTS[0]}]
    assert router.score_messages(messages) == pytest.approx(router.score("hello\n\n" + TEXTS[0]))


def test_a_pair_head_joins_the_score_and_survives_save_and_load(tmp_path: Path) -> None:
    groups = peer_groups(SCORES, ["big", "small"], "big", "small")
    head = HeadTarget(groups, gain_target(SCORES, ["big", "small"], groups))
    options = TrainOptions(l2=1e-2)
    plain = train_router(TEXTS, SCORES, ["big", "small"], features=FEATURES, options=options)
    headed = train_router(
        TEXTS, SCORES, ["big", "small"], features=FEATURES, options=options, heads=[head]
    )
    assert headed.head("big", "small") == 2 and headed.head("small", "big") is None
    assert headed.sparse_weights.shape[1] == 3
    # The head changes the score, not the per-model probabilities.
    router, without = LearnedRouter(headed), LearnedRouter(plain)
    text = "Compute 7 * 10 + 14 and explain each step carefully."
    assert router.predict(text) == pytest.approx(without.predict(text))
    assert router.score(text) != pytest.approx(without.score(text))
    assert router.score(text) > 0.3 > router.score("What colour is item 99?")
    # The reversed pair has no head: its score stays P(small) - P(big).
    reversed_pair = LearnedRouter(headed, strong="small", weak="big")
    p = router.predict(text)
    assert reversed_pair.score(text) == pytest.approx(p["small"] - p["big"])
    headed.save(tmp_path / "r")
    loaded = RouterModel.load(tmp_path / "r")
    assert loaded.manifest == headed.manifest
    x, dense = featurise(TEXTS, FEATURES)
    batch = loaded.gains_batch(x, dense, "big", "small")
    assert batch[0] == pytest.approx(router.score(TEXTS[0]))


def test_a_head_needs_scores_of_the_right_shape_and_known_models() -> None:
    groups = peer_groups(SCORES, ["big", "small"], "big", "small")
    with pytest.raises(ValueError, match="gain has shape"):
        train_router(
            TEXTS,
            SCORES,
            ["big", "small"],
            features=FEATURES,
            heads=[HeadTarget(groups, np.zeros(3))],
        )
    with pytest.raises(ValueError, match="'big' is not among the models"):
        train_router(
            TEXTS,
            SCORES[:, :1] * 0 + SCORES[:, 1:],
            ["tiny"],
            features=FEATURES,
            heads=[HeadTarget(groups, np.zeros(len(TEXTS)))],
        )
