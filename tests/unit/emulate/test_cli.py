"""The `python -m junction_emulate` command line."""

from __future__ import annotations

import pytest

from junction_emulate.__main__ import behaviour_from_args, build_parser


def test_flags_become_behaviour() -> None:
    args = build_parser().parse_args(
        [
            "vllm",
            "--port",
            "9000",
            "--ttft",
            "0.2",
            "--tps",
            "40",
            "--max-concurrency",
            "4",
            "--models",
            "a, b",
        ]
    )
    behaviour = behaviour_from_args(args)

    assert (args.flavour, args.port) == ("vllm", 9000)
    assert behaviour.models == ("a", "b")
    assert (behaviour.ttft, behaviour.tps, behaviour.max_concurrency) == (0.2, 40.0, 4)


def test_each_flavour_has_default_models() -> None:
    for flavour in ("openai", "anthropic", "vllm"):
        assert behaviour_from_args(build_parser().parse_args([flavour])).models


def test_out_of_range_values_are_rejected() -> None:
    with pytest.raises(ValueError, match="error_rate"):
        behaviour_from_args(build_parser().parse_args(["openai", "--error-rate", "3"]))
