"""`junction local ...` as the gateway's CLI will mount it."""

from __future__ import annotations

import argparse

import pytest

from local_backend.cli import main, register_cli
from local_backend.profiles import load_profiles


def test_register_cli_mounts_local_commands_on_a_parent_parser() -> None:
    parser = argparse.ArgumentParser(prog="junction")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["local", "launch", "--profile", "cpu-tiny", "--dry-run", "--set", "port=9000"]
    )
    assert (args.command, args.local_command, args.profile) == ("local", "launch", "cpu-tiny")
    assert args.dry_run and args.overrides == ["port=9000"] and callable(args.handler)
    assert callable(parser.parse_args(["local", "profiles"]).handler)


def test_profiles_lists_every_profile_with_its_memory_need(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    for name in load_profiles():
        assert name in out
    assert "51.4 GB of 72" in out  # the one-H100 FP8 profile
    assert "INVALID" not in out


def test_dry_run_prints_the_command_and_starts_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["launch", "--profile", "qwen35-35b-fp8-h100", "--dry-run", "--set", "port=9001"])
    assert code == 0
    out = capsys.readouterr().out
    assert "needs 51.4 GB per GPU" in out
    assert "vllm serve Qwen/Qwen3.5-35B-A3B-FP8" in out and "--port 9001" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["launch", "--profile", "nope", "--dry-run"], "unknown profile 'nope'"),
        (
            ["launch", "--profile", "qwen35-35b-fp8-h100", "--set", "tensor_parallel_size=2"],
            "make gpu_count equal to tp x dp",
        ),
        (["launch", "--profile", "cpu-tiny", "--set", "colour=blue"], "colour"),
    ],
)
def test_bad_launches_fail_before_anything_starts(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err
