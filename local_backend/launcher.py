"""Start vLLM for a launch profile and wait until it serves.

`launch` checks the profile (failing before anything starts), then prints the command (dry run)
or runs it, waits for `/health` and reports the model `/v1/models` lists. `start_server` and
`wait_until_ready` are the two halves, used by the real-vLLM test fixture too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import IO, Any, TextIO

import httpx

from local_backend.profiles import (
    LaunchProfile,
    build_command,
    check_profile,
    format_command,
    launch_environment,
)


class LaunchError(RuntimeError):
    """vLLM exited or did not become healthy in time."""


def start_server(
    profile: LaunchProfile, log: IO[Any] | int | None = None, cwd: str | None = None
) -> subprocess.Popen[bytes]:
    """Start the server process for `profile` (in its own process group) and return it."""
    env = {**os.environ, **launch_environment(profile)}
    return subprocess.Popen(
        build_command(profile),
        env=env,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT if log is not None else None,
        # Its own session, so stopping it can take the engine-core child process along.
        start_new_session=True,
    )


def local_url(profile: LaunchProfile) -> str:
    """Where this machine reaches the server (0.0.0.0 binds every interface)."""
    host = "127.0.0.1" if profile.host in ("0.0.0.0", "::", "") else profile.host
    return f"http://{host}:{profile.port}"


def wait_until_ready(
    base_url: str, process: subprocess.Popen[bytes] | None, timeout_s: float = 180.0
) -> str:
    """Poll `/health` until it answers 200, then return the first model `/v1/models` lists.
    Raises LaunchError when the process exits first or time runs out.
    """
    deadline = time.monotonic() + timeout_s
    last_error = "no answer yet"
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise LaunchError(f"vLLM exited with code {process.returncode} before /health")
            try:
                if client.get(f"{base_url}/health").status_code == 200:
                    models = client.get(f"{base_url}/v1/models").json()
                    return str(models["data"][0]["id"])
                last_error = "/health not 200 yet"
            except httpx.HTTPError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(0.5)
    raise LaunchError(f"vLLM at {base_url} not healthy after {timeout_s:.0f} s ({last_error})")


def stop_server(process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    """Stop the server's process group: SIGTERM, then SIGKILL after `timeout_s`."""
    if process.poll() is not None:
        return
    pgid = os.getpgid(process.pid)
    os.killpg(pgid, 15)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(pgid, 9)
        process.wait(timeout=10)


def launch(
    profile: LaunchProfile,
    dry_run: bool,
    out: TextIO | None = None,
    ready_timeout_s: float = 1800.0,
) -> int:
    """Check the profile, then print the command (dry run) or run vLLM in the foreground until
    it exits or is interrupted; returns an exit code.
    """
    out = out or sys.stdout
    needs = check_profile(profile)
    print(f"# profile {profile.name}: needs {needs.total_gb:.1f} GB per "
          f"{'host' if profile.device == 'cpu' else 'GPU'}", file=out)
    print(format_command(profile), file=out)
    if dry_run:
        return 0
    process = start_server(profile)
    try:
        model = wait_until_ready(local_url(profile), process, ready_timeout_s)
        print(f"ready: {local_url(profile)}/v1 serves model '{model}'", file=out, flush=True)
        return process.wait()
    except LaunchError as exc:
        print(f"error: {exc}", file=out)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        stop_server(process)
