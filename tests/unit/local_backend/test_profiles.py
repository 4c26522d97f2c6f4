"""Launch profiles: the shipped files, validation against the known models and GPUs, commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local_backend.catalog import KNOWN_MODELS, split_checkpoint_name
from local_backend.profiles import (
    LaunchProfile,
    ProfileError,
    build_command,
    check_profile,
    format_command,
    launch_environment,
    load_profile_file,
    load_profiles,
    parse_overrides,
    with_overrides,
)

SHIPPED = load_profiles()
H100_FP8 = SHIPPED["qwen35-35b-fp8-h100"]


def test_ships_the_family_profiles() -> None:
    assert {
        "cpu-tiny",
        "qwen35-35b-fp8-h100",
        "qwen35-35b-fp8-h200",
        "qwen35-35b-bf16-2xh100",
        "qwen35-122b-fp8-2xh200",
        "qwen35-397b-fp8-8xh200-tp8",
        "qwen35-397b-fp8-8xh200-dp8-ep",
    } <= set(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_profile_passes_its_checks(name: str) -> None:
    needs = check_profile(SHIPPED[name])
    assert needs.fits and needs.total_gb > 0


def test_default_model_is_the_35b_fp8() -> None:
    assert LaunchProfile(name="x").model == "Qwen/Qwen3.5-35B-A3B-FP8"


@pytest.mark.parametrize(
    ("model", "family", "dtype"),
    [
        ("Qwen/Qwen3.5-35B-A3B-FP8", "Qwen3.5-35B-A3B", "fp8"),
        ("Qwen/Qwen3.5-35B-A3B", "Qwen3.5-35B-A3B", "bf16"),
        ("Qwen/Qwen3.5-122B-A10B-GPTQ-Int4", "Qwen3.5-122B-A10B", "int4"),
        ("/abs/.vllm-venv/tiny-qwen35/", "tiny-qwen35", "bf16"),
    ],
)
def test_checkpoint_names(model: str, family: str, dtype: str) -> None:
    assert split_checkpoint_name(model) == (family, dtype)
    assert family in KNOWN_MODELS


def test_known_models_share_the_262k_context() -> None:
    for name, model in KNOWN_MODELS.items():
        if name.startswith("Qwen3.5"):
            assert model.context_length == 262_144


# Each row: overrides on the one-H100 FP8 profile -> fragments the error must contain, so the
# message names the field, the bad value and what to change.
INVALID: list[tuple[str, dict[str, Any], list[str]]] = [
    ("unknown-model", {"model": "meta/Llama-9-1T"}, ["not in the known-models", "Llama-9-1T"]),
    ("unknown-dtype", {"model": "Qwen/Qwen3.5-35B-A3B-FP4"}, ["not in the known-models table"]),
    ("gpu-count", {"gpu_count": 2}, ["= 1 GPUs, but gpu_count is 2", "gpu_count equal to tp x dp"]),
    (
        "tp-vs-heads",
        {"tensor_parallel_size": 3, "gpu_count": 3},
        ["tensor_parallel_size 3 does not divide", "16 attention heads", "[1, 2, 4, 8, 16]"],
    ),
    (
        "context",
        {"max_model_len": 300_000},
        ["max_model_len 300,000 exceeds", "262,144", "at most 262144"],
    ),
    (
        "memory-bf16-one-h100",
        {"model": "Qwen/Qwen3.5-35B-A3B"},
        ["needs 93.4 GB per GPU", "72.0 GB is usable", "add GPUs", "-FP8"],
    ),
    (
        "memory-397b-one-h200",
        {"model": "Qwen/Qwen3.5-397B-A17B-FP8", "gpu_type": "H200"},
        ["needs 422.1 GB per GPU", "126.9 GB is usable"],
    ),
    ("gpu-type", {"gpu_type": "TPUv9"}, ["gpu_type 'TPUv9' is unknown", "H100"]),
    ("expert-parallel-one-gpu", {"enable_expert_parallel": True}, ["needs more than one GPU"]),
    (
        "cpu-with-gpus",
        {"device": "cpu", "model": "tiny-qwen35", "max_model_len": 2048},
        ["device cpu", "gpu_count: 0"],
    ),
]


@pytest.mark.parametrize(
    ("overrides", "fragments"), [r[1:] for r in INVALID], ids=[r[0] for r in INVALID]
)
def test_invalid_profiles_fail_with_what_to_change(
    overrides: dict[str, Any], fragments: list[str]
) -> None:
    profile = with_overrides(H100_FP8, overrides)
    with pytest.raises(ProfileError) as caught:
        check_profile(profile)
    message = str(caught.value)
    assert message.startswith("profile 'qwen35-35b-fp8-h100' cannot run")
    for fragment in fragments:
        assert fragment in message


def test_several_problems_are_reported_together() -> None:
    profile = with_overrides(H100_FP8, {"gpu_count": 4, "max_model_len": 10**6})
    with pytest.raises(ProfileError) as caught:
        check_profile(profile)
    assert len(caught.value.problems) == 2


def test_tp_may_exceed_kv_heads_as_vllm_replicates_them() -> None:
    needs = check_profile(SHIPPED["qwen35-397b-fp8-8xh200-tp8"])
    assert needs.weights_gb == pytest.approx(410 / 8)


def test_expert_parallel_shards_weights_over_all_gpus() -> None:
    needs = check_profile(SHIPPED["qwen35-397b-fp8-8xh200-dp8-ep"])
    assert needs.weights_gb == pytest.approx(410 / 8)
    profile = SHIPPED["qwen35-397b-fp8-8xh200-dp8-ep"]
    without_ep = with_overrides(profile, {"enable_expert_parallel": False})
    with pytest.raises(ProfileError, match="needs 4"):
        check_profile(without_ep)


def test_gpu_command_for_the_h200_profile() -> None:
    command = build_command(SHIPPED["qwen35-35b-fp8-h200"])
    assert command[:3] == ["vllm", "serve", "Qwen/Qwen3.5-35B-A3B-FP8"]

    def value(flag: str) -> str:
        return command[command.index(flag) + 1]

    assert value("--served-model-name") == "qwen3.5-35b-a3b"
    assert value("--tensor-parallel-size") == "1"
    assert value("--max-model-len") == "262144"
    assert value("--gpu-memory-utilization") == "0.9"
    assert value("--reasoning-parser") == "qwen3"
    assert value("--tool-call-parser") == "qwen3_coder"
    mtp = {"method": "mtp", "num_speculative_tokens": 1}
    assert json.loads(value("--speculative-config")) == mtp
    assert json.loads(value("--default-chat-template-kwargs")) == {"enable_thinking": False}
    for flag in ("--enable-auto-tool-choice", "--enable-prefix-caching", "--language-model-only",
                 "--enable-server-load-tracking"):
        assert flag in command
    assert "--data-parallel-size" not in command and "--enforce-eager" not in command


def test_data_and_expert_parallel_flags() -> None:
    command = build_command(SHIPPED["qwen35-397b-fp8-8xh200-dp8-ep"])
    assert command[command.index("--data-parallel-size") + 1] == "8"
    assert "--enable-expert-parallel" in command
    tp8 = build_command(SHIPPED["qwen35-397b-fp8-8xh200-tp8"])
    assert tp8[tp8.index("--tensor-parallel-size") + 1] == "8"


def test_thinking_on_by_default_adds_no_template_kwargs() -> None:
    command = build_command(with_overrides(H100_FP8, {"thinking_default": True}))
    assert "--default-chat-template-kwargs" not in command
    off = build_command(with_overrides(H100_FP8, {"enable_prefix_caching": False}))
    assert "--no-enable-prefix-caching" in off


def test_cpu_command_uses_the_server_module_and_offline_environment() -> None:
    profile = SHIPPED["cpu-tiny"]
    command = build_command(profile)
    assert command[:3] == [".vllm-venv/bin/python", "-m", "vllm.entrypoints.openai.api_server"]
    assert command[command.index("--model") + 1] == ".vllm-venv/tiny-qwen35"
    assert "--enforce-eager" in command and "--tensor-parallel-size" not in command
    assert "--gpu-memory-utilization" not in command
    # The CPU profile leaves prefix caching to vLLM's default.
    assert not any("prefix-caching" in arg for arg in command)
    env = launch_environment(profile)
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "1" and env["HF_HUB_OFFLINE"] == "1"
    assert format_command(profile).startswith("VLLM_NO_USAGE_STATS=1 ")


def test_extra_args_come_last() -> None:
    profile = with_overrides(H100_FP8, {"extra_args": ["--seed", "7"]})
    assert build_command(profile)[-2:] == ["--seed", "7"]


def test_overrides_are_typed_and_validated() -> None:
    assert parse_overrides(["port=9000", "enforce_eager=true", "reasoning_parser=null"]) == {
        "port": 9000,
        "enforce_eager": True,
        "reasoning_parser": None,
    }
    with pytest.raises(ProfileError, match="not key=value"):
        parse_overrides(["port"])
    with pytest.raises(ProfileError, match="no_such_field"):
        with_overrides(H100_FP8, {"no_such_field": 1})
    with pytest.raises(ProfileError, match="gpu_memory_utilization"):
        with_overrides(H100_FP8, {"gpu_memory_utilization": 1.5})


def test_profile_files_forbid_unknown_keys_and_foreign_names(tmp_path: Path) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text("model: Qwen/Qwen3.5-35B-A3B-FP8\ntensor_paralel_size: 2\n")
    with pytest.raises(ProfileError, match="tensor_paralel_size"):
        load_profile_file(typo)
    renamed = tmp_path / "mine.yaml"
    renamed.write_text("name: theirs\n")
    with pytest.raises(ProfileError, match="must match the file name"):
        load_profile_file(renamed)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ProfileError, match="expected a mapping"):
        load_profile_file(listing)
    good = tmp_path / "good.yaml"
    good.write_text("gpu_type: H200\n")
    assert load_profiles(tmp_path.parent / tmp_path.name / "none") == {}
    assert load_profile_file(good).name == "good"
