"""The MMLU-Pro converter and the quality priors, on a tiny matrix written by the test."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest
import yaml

from router_training import convert_mmlu_pro, priors
from router_training.dataset import load_dataset

HEADER = [
    "question_id", "category", "src", "answer", "question", "options",
    "big", "big|pred", "big|out_chars", "small", "small|pred", "small|out_chars",
]  # fmt: skip
ROWS = [
    ["1", "math", "tqa-x", "A", "What is 2+2?", '["4", "5"]', "1", "A", "400", "0", "B", "80"],
    ["2", "math", "ori_mmlu-x", "B", "Solve x+1=3.", '["1", "2"]', "1", "B", "", "1", "B", "40"],
    ["3", "law", "ori_mmlu-y", "A", "Is it a tort?", '["yes", "no"]', "0", "", "4", "", "", ""],
    ["4", "computer science", "s", "A", "O(n)?", '["yes", "no"]', "1", "A", "8", "1", "A", "8"],
]  # fmt: skip
MAP = {
    "version": 1,
    "categories": {"math": "math", "law": "reasoning", "computer science": "code"},
    "not_covered": ["chat"],
}


@pytest.fixture()
def matrix(tmp_path: Path) -> Path:
    path = tmp_path / "matrix.csv.gz"
    with gzip.open(path, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(ROWS)
    (tmp_path / "prices.json").write_text(
        json.dumps({"gpt-4o": {"input_token_price_per_million": 2.5,
                               "output_token_price_per_million": 10.0}})
    )  # fmt: skip
    (tmp_path / "map.yaml").write_text(yaml.safe_dump(MAP))
    return path


def test_convert_writes_a_valid_dataset_with_costs(matrix: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.jsonl"
    argv = ["--matrix", str(matrix), "--out", str(out), "--map", str(tmp_path / "map.yaml")]
    assert convert_mmlu_pro.main(argv) == 0
    examples = load_dataset(out)
    assert [e.id for e in examples] == ["mmlu-pro-1", "mmlu-pro-2", "mmlu-pro-3", "mmlu-pro-4"]
    first = examples[0]
    assert first.prompt == "What is 2+2?\n\nOptions:\nA. 4\nB. 5"
    assert first.task == "math"
    assert first.scores == {"big": 1.0, "small": 0.0}
    assert first.meta == {"category": "math", "src": "tqa-x", "question_id": "1"}
    # Unpriced models cost the stated default, $0.20 per million tokens in and out.
    assert first.cost is not None
    assert first.cost["big"] == pytest.approx((len(first.prompt) + 400) / 4 * 0.2e-6, rel=1e-6)
    # An ungraded cell is left out; a missing out_chars uses the model's median.
    assert examples[2].scores == {"big": 0.0}
    assert examples[1].cost is not None
    assert examples[1].cost["big"] == pytest.approx(
        (len(examples[1].prompt or "") + 8) / 4 * 0.2e-6, rel=1e-6
    )


def test_convert_filters_models_categories_and_samples(matrix: Path) -> None:
    from router_training.mmlu_pro import load_matrix

    lines = convert_mmlu_pro.convert(
        load_matrix(matrix), models=["small"], categories=["math", "law"], per_category=1
    )
    assert [line["meta"]["category"] for line in lines] == ["math"]
    assert [set(line["scores"]) for line in lines] == [{"small"}]
    with pytest.raises(ValueError, match="unknown categories \\['poetry'\\]"):
        convert_mmlu_pro.convert(load_matrix(matrix), categories=["poetry"])


def test_listed_prices_win_over_stated_ones(tmp_path: Path, matrix: Path) -> None:
    prices = convert_mmlu_pro.model_prices(
        ["gpt-4o-2024-05-13", "gemini-1.5-pro-002", "Yi-6B"], tmp_path / "prices.json"
    )
    assert prices == {
        "gpt-4o-2024-05-13": (2.5, 10.0),
        "gemini-1.5-pro-002": (1.25, 5.0),
        "Yi-6B": convert_mmlu_pro.DEFAULT_PRICE,
    }


def test_priors_pool_categories_per_task_with_counts(matrix: Path, tmp_path: Path) -> None:
    out = tmp_path / "priors.yaml"
    argv = ["--matrix", str(matrix), "--map", str(tmp_path / "map.yaml"), "--out", str(out)]
    assert priors.main(argv) == 0
    table = yaml.safe_load(out.read_text())
    assert table["quality"] == {
        "code": {"big": 1.0, "small": 1.0},
        "math": {"big": 1.0, "small": 0.5},
        "reasoning": {"big": 0.0},
    }
    assert table["counts"]["math"] == {"big": 2, "small": 2}
    assert table["counts"]["reasoning"] == {"big": 1}
    assert "chat" in table["not_covered"] and "math" not in table["not_covered"]


def test_priors_refuse_an_unmapped_category(matrix: Path, tmp_path: Path) -> None:
    partial = {"version": 1, "categories": {"math": "math"}}
    (tmp_path / "partial.yaml").write_text(yaml.safe_dump(partial))
    mapping = priors.load_category_map(tmp_path / "partial.yaml")
    from router_training.mmlu_pro import load_matrix

    with pytest.raises(ValueError, match="not in the map"):
        priors.derive_priors(load_matrix(matrix), mapping)


def test_the_shipped_priors_match_the_shipped_map() -> None:
    root = Path(__file__).resolve().parents[3] / "policies" / "quality"
    mapping = priors.load_category_map(root / "mmlu_pro_map.yaml")
    shipped = yaml.safe_load((root / "mmlu_pro_priors.yaml").read_text())
    for task, categories in shipped["categories"].items():
        assert {c for c, t in mapping.categories.items() if t == task} == set(categories)
    for table in shipped["quality"].values():
        assert all(0.0 <= q <= 1.0 for q in table.values())
