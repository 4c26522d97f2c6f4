"""A real vLLM (CPU build) serving the tiny random-weight Qwen3.5 MoE, for integration tests.

`tests/integration/vllm/setup_vllm.sh` installs it into `.vllm-venv` at the repository root.
Without that venv the tests skip, unless JUNCTION_REQUIRE_VLLM is set (CI sets it): then a
missing vLLM is a failure. The server is started from the `cpu-tiny` launch profile, so these
tests exercise the launcher's command too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

import pytest

from local_backend.launcher import LaunchError, start_server, stop_server, wait_until_ready
from local_backend.profiles import LaunchProfile, check_profile, load_profiles, with_overrides
from tests.support.redis_server import free_port

REPO_ROOT = Path(__file__).resolve().parents[3]
VLLM_VENV = REPO_ROOT / ".vllm-venv"
VLLM_PYTHON = VLLM_VENV / "bin" / "python"
TINY_MODEL = VLLM_VENV / "tiny-qwen35"
READY_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class RealVllm:
    """A running vLLM: `base_url` has no /v1 suffix; `model` is the served model name."""

    base_url: str
    model: str
    profile: LaunchProfile
    process: Popen[bytes]
    log_path: Path


def require_vllm() -> None:
    """Skip (or fail, when JUNCTION_REQUIRE_VLLM is set) unless setup_vllm.sh has run."""
    if VLLM_PYTHON.exists() and (TINY_MODEL / "config.json").exists():
        return
    reason = (
        f"no real vLLM: {VLLM_PYTHON} or {TINY_MODEL} is missing; "
        "run tests/integration/vllm/setup_vllm.sh (about 2 minutes) to install it"
    )
    if os.environ.get("JUNCTION_REQUIRE_VLLM"):
        pytest.fail(f"JUNCTION_REQUIRE_VLLM is set but there is {reason}")
    pytest.skip(reason)


def tiny_profile(
    port: int, max_num_seqs: int = 2, max_model_len: int | None = None
) -> LaunchProfile:
    """The cpu-tiny profile on `port`, with absolute paths and the notes' test settings."""
    profile = with_overrides(
        load_profiles()["cpu-tiny"],
        {
            "model": str(TINY_MODEL),
            "python_executable": str(VLLM_PYTHON),
            "host": "127.0.0.1",
            "port": port,
            # Two sequences at a time make queueing visible with a handful of requests.
            "max_num_seqs": max_num_seqs,
            **({"max_model_len": max_model_len} if max_model_len is not None else {}),
        },
    )
    check_profile(profile)
    return profile


@contextmanager
def running_vllm(
    log_path: Path, port: int | None = None, max_num_seqs: int = 2,
    max_model_len: int | None = None,
) -> Iterator[RealVllm]:
    """Start vLLM for the tiny model, wait for /health, yield it, and stop it afterwards."""
    profile = tiny_profile(port or free_port(), max_num_seqs, max_model_len)
    base_url = f"http://127.0.0.1:{profile.port}"
    with log_path.open("ab") as log:
        process = start_server(profile, log=log, cwd=str(REPO_ROOT))
        try:
            try:
                model = wait_until_ready(base_url, process, READY_TIMEOUT_S)
            except LaunchError as exc:
                tail = log_path.read_text(errors="replace")[-4000:]
                pytest.fail(f"{exc}\n--- last lines of {log_path} ---\n{tail}")
            yield RealVllm(base_url, model, profile, process, log_path)
        finally:
            stop_server(process)


@pytest.fixture(scope="session")
def real_vllm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealVllm]:
    """One real vLLM for the whole session (about 30-60 s to start on 2 cores)."""
    require_vllm()
    log_path = tmp_path_factory.mktemp("vllm") / "vllm-session.log"
    with running_vllm(log_path) as server:
        yield server
