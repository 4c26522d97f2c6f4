"""`junction router train | eval | calibrate` end to end on the shipped MMLU-Pro slice."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from router_training.cli import register_cli

DATA = Path(__file__).resolve().parents[2] / "data" / "router_small.jsonl"
STRONG, WEAK = "gpt-4o-2024-05-13", "Meta-Llama-3_1-8B-Instruct"


def junction(*argv: str | Path) -> int:
    parser = argparse.ArgumentParser(prog="junction")
    register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["router", *map(str, argv)])
    result: int = args.handler(args)
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("router") / "r"
    assert junction("train", "--data", DATA, "--out", out) == 0
    return out


def test_train_writes_a_router_directory(trained: Path) -> None:
    manifest = json.loads((trained / "router.json").read_text())
    assert {m["name"] for m in manifest["models"]} == {STRONG, WEAK}
    assert manifest["n_examples"] == len(DATA.read_text().splitlines())
    assert {p.name for p in trained.iterdir()} == {
        "router.json",
        "columns.npy",
        "sparse_weights.npy",
        "dense_weights.npy",
    }


def test_eval_json_is_one_object_with_router_and_baselines(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot = tmp_path / "pair.png"
    argv: list[str | Path] = ["eval", "--data", DATA, "--router", trained, "--strong", STRONG]
    argv += ["--weak", WEAK]
    assert junction(*argv, "--json", "--plot", plot) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["router"]) == {"apgr", "cpt50", "cpt80"}
    assert set(report["baselines"]) == {"random", "oracle", "always_strong", "always_weak"}
    assert report["n"] == len(DATA.read_text().splitlines())
    latency = report["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] and latency["calls"] > 0
    # In-sample the router must have learned something, and nothing beats the oracle.
    assert 0.7 < report["router"]["apgr"] <= report["baselines"]["oracle"]["apgr"]
    assert report["baselines"]["random"]["apgr"] == pytest.approx(0.5, abs=0.08)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_on_held_out_categories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = DATA.read_text().splitlines()
    held = {"law", "physics", "history"}
    train = [line for line in lines if json.loads(line)["meta"]["category"] not in held]
    test = [line for line in lines if json.loads(line)["meta"]["category"] in held]
    (tmp_path / "train.jsonl").write_text("\n".join(train))
    (tmp_path / "test.jsonl").write_text("\n".join(test))
    assert junction("train", "--data", tmp_path / "train.jsonl", "--out", tmp_path / "r") == 0
    capsys.readouterr()
    assert junction("eval", "--data", tmp_path / "test.jsonl", "--router", tmp_path / "r") == 0
    text = capsys.readouterr().out
    assert f"{STRONG} (strong) vs {WEAK} (weak) on {len(test)} prompts" in text
    assert "learned router" in text and "oracle" in text and "random" in text


def test_multi_model_eval_reports_aiq(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot = tmp_path / "cost.png"
    argv: list[str | Path] = ["eval", "--data", DATA, "--router", trained]
    argv += ["--models", f"{STRONG},{WEAK}"]
    assert junction(*argv, "--json", "--plot", plot) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["router"]["aiq"] > report["baselines"]["single_models"]["aiq"]
    assert set(report["baselines"]["models"]) == {STRONG, WEAK}
    assert plot.exists()


def test_calibrate_stores_a_threshold_that_eval_reports(
    trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert junction("calibrate", "--data", DATA, "--router", trained, "--strong-share", "0.3") == 0
    calibration = json.loads((trained / "router.json").read_text())["calibration"]
    assert calibration["strong_share"] == pytest.approx(0.3, abs=0.01)
    assert (calibration["strong"], calibration["weak"]) == (STRONG, WEAK)
    capsys.readouterr()
    assert junction("eval", "--data", DATA, "--router", trained, "--json") == 0
    assert json.loads(capsys.readouterr().out)["calibrated"]["strong_share"] == pytest.approx(
        0.3, abs=0.01
    )
    argv: list[str | Path] = ["calibrate", "--data", DATA, "--router", trained]
    argv += ["--target-pgr", "0.5", "--json"]
    assert junction(*argv) == 0
    assert json.loads(capsys.readouterr().out)["pgr"] >= 0.5
    # Another pair can still be evaluated; the stored threshold just does not apply to it.
    argv = ["eval", "--data", DATA, "--router", trained, "--strong", WEAK, "--weak", STRONG]
    assert junction(*argv, "--json") == 0
    assert "calibrated" not in json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--strong", "nope", "--weak", WEAK], "'nope' is not in this router"),
        (["--strong", STRONG, "--models", f"{STRONG},{WEAK}"], "either --strong/--weak"),
        (["--models", STRONG], "at least two models"),
    ],
)
def test_eval_errors_say_what_is_wrong(
    trained: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert junction("eval", "--data", DATA, "--router", trained, *argv) == 2
    assert message in capsys.readouterr().err


def test_train_refuses_models_without_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert junction("train", "--data", DATA, "--out", tmp_path / "r", "--models", "gpt-5") == 2
    assert "models ['gpt-5'] have no scores" in capsys.readouterr().err


def test_a_pair_head_is_fitted_when_asked_or_when_peers_are_graded(
    trained: Path, tmp_path: Path
) -> None:
    # The shipped slice grades only the pair: no peers, so no head unless --pair asks for one.
    assert json.loads((trained / "router.json").read_text())["heads"] == []
    argv: list[str | Path] = ["train", "--data", DATA, "--out", tmp_path / "asked"]
    assert junction(*argv, "--pair", f"{STRONG},{WEAK}") == 0
    heads = json.loads((tmp_path / "asked/router.json").read_text())["heads"]
    assert [(h["strong"], h["weak"]) for h in heads] == [(STRONG, WEAK)]
    lines = [json.loads(line) for line in DATA.read_text().splitlines()]
    for i, line in enumerate(lines):  # a third graded model makes peers: the default fits a head
        line["scores"]["peer"] = float(i % 2)
    (tmp_path / "peers.jsonl").write_text("\n".join(json.dumps(line) for line in lines))
    argv = ["train", "--data", tmp_path / "peers.jsonl", "--out", tmp_path / "peers"]
    assert junction(*argv, "--models", f"{STRONG},{WEAK}") == 0
    manifest = json.loads((tmp_path / "peers/router.json").read_text())
    assert [(h["strong"], h["weak"]) for h in manifest["heads"]] == [(STRONG, WEAK)]


def test_train_refuses_a_pair_outside_the_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv: list[str | Path] = ["train", "--data", DATA, "--out", tmp_path / "r"]
    assert junction(*argv, "--pair", f"{STRONG},gpt-5") == 2
    assert "--pair needs two of the trained models" in capsys.readouterr().err
