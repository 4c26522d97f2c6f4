"""The runtime package stays apart from the tools: `router/` imports the emulators only in the
demo command, which the CLI loads lazily."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
RUNTIME = ROOT / "router"
# The one runtime module allowed to import the emulators: `junction demo` (loaded lazily).
ALLOWED = {RUNTIME / "demo.py"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_runtime_imports_the_emulators_only_in_the_demo_command() -> None:
    offenders = sorted(
        str(path.relative_to(ROOT))
        for path in RUNTIME.rglob("*.py")
        if path not in ALLOWED
        and any(m.split(".")[0] == "junction_emulate" for m in imported_modules(path))
    )
    assert offenders == []


def test_the_demo_module_does_import_them() -> None:
    # Guards the test above against passing because the scan found nothing at all.
    assert "junction_emulate" in imported_modules(RUNTIME / "demo.py")


def test_building_the_app_and_the_cli_loads_no_emulator() -> None:
    code = ("import sys, router.app, router.cli; "
            "print(any(m.split('.')[0] == 'junction_emulate' for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


def test_only_the_litellm_provider_configures_litellm() -> None:
    setters = sorted(
        str(path.relative_to(ROOT)) for path in RUNTIME.rglob("*.py")
        if "LITELLM_LOCAL_MODEL_COST_MAP" in path.read_text(encoding="utf-8")
        and "learned" not in path.parts
    )
    assert setters == ["router/providers/litellm_provider.py"]


def modules_importing(root: Path, top: str) -> set[str]:
    return {
        str(path.relative_to(ROOT)) for path in root.rglob("*.py")
        if any(m.split(".")[0] == top for m in imported_modules(path))
    }


def test_only_the_http_layer_imports_fastapi_or_uvicorn() -> None:
    allowed = {"router/app.py", "router/demo.py", "router/server.py", "router/workers.py"}
    for top in ("fastapi", "uvicorn", "starlette"):
        found = modules_importing(RUNTIME, top)
        assert {m for m in found if m not in allowed and not m.startswith("router/api/")} == set()


def test_local_backend_never_imports_router_and_bench_never_imports_tests() -> None:
    assert modules_importing(ROOT / "local_backend", "router") == set()
    assert modules_importing(ROOT / "bench", "tests") == set()


def test_the_domain_never_imports_the_api_layer() -> None:
    found = {
        str(path.relative_to(ROOT)) for path in (RUNTIME / "gateway").rglob("*.py")
        if any(m.startswith("router.api") for m in imported_modules(path))
    }
    assert found == set()
