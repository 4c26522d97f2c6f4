"""launch() end to end against a stand-in server module, so no vLLM is needed."""

from __future__ import annotations

import io
import sys
import textwrap
from pathlib import Path

import pytest

from local_backend.launcher import LaunchError, launch, start_server, stop_server, wait_until_ready
from local_backend.profiles import LaunchProfile, load_profiles, with_overrides
from tests.support.redis_server import free_port

# Answers /health and /v1/models like vLLM, then exits once the model list has been read, so
# launch() (which waits for the server to end) returns.
FAKE_SERVER = textwrap.dedent(
    """
    import json, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer

    args = sys.argv[1:]
    port = int(args[args.index("--port") + 1])
    name = args[args.index("--served-model-name") + 1]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"" if self.path == "/health" else json.dumps(
                {"object": "list", "data": [{"id": name, "object": "model"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            if self.path == "/v1/models":
                self.server.done = True

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", port), Handler)
    server.done = False
    while not server.done:
        server.handle_request()
    """
)


@pytest.fixture
def fake_vllm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LaunchProfile:
    package = tmp_path / "vllm" / "entrypoints" / "openai"
    package.mkdir(parents=True)
    for folder in (package, package.parent, package.parent.parent):
        (folder / "__init__.py").write_text("")
    (package / "api_server.py").write_text(FAKE_SERVER)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return with_overrides(
        load_profiles()["cpu-tiny"],
        {"python_executable": sys.executable, "port": free_port(), "model": "tiny-qwen35"},
    )


def test_launch_runs_the_command_waits_for_health_and_reports_the_model(
    fake_vllm: LaunchProfile,
) -> None:
    out = io.StringIO()
    assert launch(fake_vllm, dry_run=False, out=out, ready_timeout_s=30) == 0
    text = out.getvalue()
    assert "-m vllm.entrypoints.openai.api_server" in text
    assert f"ready: http://127.0.0.1:{fake_vllm.port}/v1 serves model 'tiny-qwen35'" in text


def test_dry_run_checks_and_prints_only(fake_vllm: LaunchProfile) -> None:
    out = io.StringIO()
    assert launch(fake_vllm, dry_run=True, out=out) == 0
    assert "needs 3.0 GB per host" in out.getvalue()


def test_a_server_that_exits_early_is_reported(fake_vllm: LaunchProfile, tmp_path: Path) -> None:
    server = tmp_path / "vllm" / "entrypoints" / "openai" / "api_server.py"
    server.write_text("raise SystemExit(3)\n")
    process = start_server(fake_vllm)
    try:
        with pytest.raises(LaunchError, match="exited with code 3"):
            wait_until_ready(f"http://127.0.0.1:{fake_vllm.port}", process, timeout_s=30)
    finally:
        stop_server(process)


def test_a_server_that_never_answers_times_out() -> None:
    with pytest.raises(LaunchError, match="not healthy after"):
        wait_until_ready(f"http://127.0.0.1:{free_port()}", None, timeout_s=0.3)
