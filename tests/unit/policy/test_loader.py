"""Policy files: every shipped file loads, and bad files fail with file, line, path and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.errors import PolicyError
from router.policy.check import policy_warnings
from router.policy.loader import load_policy, parse_policy

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = sorted((ROOT / "policies").rglob("*.yaml"))
POLICY_FILES = [p for p in SHIPPED if "quality" not in p.parts]
ENV = {"JUNCTION_LOCAL_URL": "http://127.0.0.1:8000", "JUNCTION_LOCAL_MODEL": "m"}


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_policy_loads(path: Path) -> None:
    policy = load_policy(path, ENV)
    assert policy.routes
    assert not [w for w in policy_warnings(policy) if "can never" in w]


def test_shipped_files_include_the_documented_examples() -> None:
    names = {p.name for p in POLICY_FILES}
    assert {"default.yaml", "local-only.yaml", "api-only.yaml", "cost-capped.yaml"} <= names


MINIMAL = """
models:
  m:
    backend: local
    model: x
    endpoints: ["http://127.0.0.1:1"]
routes:
  - name: r
    candidates: [m]
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MINIMAL.replace("backend: local", "backend: lokal"),
         ["test.yaml:4", "models.m.backend", "'local', 'openai', 'litellm' or 'anthropic'",
          "'lokal'"]),
        (MINIMAL.replace("model: x", "model: x\n    colour: red"),
         ["test.yaml:6", "models.m.colour", "unknown key"]),
        (MINIMAL.replace("candidates: [m]", "candidates: [m, ghost]"),
         ["unknown model 'ghost'", "models are: m"]),
        (MINIMAL.replace("name: r", "name: r\n    objective: cheapest"),
         ["test.yaml:9", "routes[0].objective", "'min_cost', 'max_quality' or 'min_latency'",
          "'cheapest'"]),
        (MINIMAL.replace('["http://127.0.0.1:1"]', '["${NOPE}"]'),
         ["test.yaml:6", "models.m.endpoints[0]", "NOPE", "not set"]),
        ("models: [\n", ["test.yaml", "not valid YAML"]),
        ("", ["empty"]),
        (MINIMAL + "\nmodels: {}\n", ["key models appears twice"]),
        (MINIMAL.replace("endpoints: [\"http://127.0.0.1:1\"]", "endpoints: []"),
         ["models.m", "needs at least one URL"]),
    ],
)
def test_invalid_policies_say_where_and_what(text: str, expected: list[str]) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, source="test.yaml", environ={})
    message = str(info.value)
    for fragment in expected:
        assert fragment in message, message


def test_env_defaults_and_values() -> None:
    text = MINIMAL.replace('"http://127.0.0.1:1"', '"${URL:-http://127.0.0.1:2}"')
    assert parse_policy(text, source="t", environ={}).models["m"].endpoints == [
        "http://127.0.0.1:2"
    ]
    assert parse_policy(text, source="t", environ={"URL": "http://h:3"}).models[
        "m"
    ].endpoints == ["http://h:3"]


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(tmp_path / "missing.yaml")


def test_warnings_for_dead_routes() -> None:
    text = MINIMAL + """
  - name: later
    match: {task: [code]}
    candidates: [m]
  - name: impossible
    match: {difficulty: {min: 0.9, max: 0.1}}
    candidates: [m]
"""
    warnings = policy_warnings(parse_policy(text, source="t", environ={}))
    assert any("'later' can never match" in w and "'r'" in w for w in warnings)
    assert any("'impossible' can never match" in w for w in warnings)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        # A route naming a missing model: the line of that candidate, not `version:`.
        ("version: 1\n" + MINIMAL.replace("candidates: [m]", "candidates:\n      - m\n"
                                          "      - ghost"),
         12, ["routes[0].candidates[1]", "unknown model 'ghost'"]),
        ("version: 1\n" + MINIMAL + "  - name: r\n    candidates: [m]\n",
         11, ["routes[1].name", "'r' is used twice"]),
        ("version: 1\n" + MINIMAL + "quality:\n  chat: {m: 0.5, ghost: 0.7}\n",
         12, ["quality.chat.ghost", "unknown model 'ghost'"]),
    ],
)
def test_cross_reference_errors_point_at_their_own_line(
    text: str, line: int, words: list[str]
) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, source="p.yaml", environ={})
    message = str(info.value)
    assert f"p.yaml:{line}: " in message, message
    for word in words:
        assert word in message
    assert "p.yaml:2:" not in message and "(got {" not in message


def test_yaml_syntax_errors_name_the_file_and_line() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy("version: 1\nmodels:\n  m: [1, 2\nroutes: []\n", source="p.yaml",
                     environ={})
    message = str(info.value)
    assert "<unicode string>" not in message
    assert message.startswith("p.yaml:4: not valid YAML:"), message


def test_every_missing_variable_is_named_at_once() -> None:
    text = MINIMAL.replace("model: x", "model: ${MODEL_A}").replace(
        '["http://127.0.0.1:1"]', '["${URL_B}"]')
    with pytest.raises(PolicyError) as info:
        parse_policy(text, source="p.yaml", environ={})
    message = str(info.value)
    assert "2 environment variable(s) not set" in message
    assert "p.yaml:5: models.m.model refers to environment variable MODEL_A" in message
    assert "p.yaml:6: models.m.endpoints[0] refers to environment variable URL_B" in message


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_policy_loads_with_no_variables_set(path: Path) -> None:
    assert load_policy(path, {}).routes


def test_the_shipped_policies_are_package_data() -> None:
    import tomllib

    from router.settings import SHIPPED_POLICY, Settings

    packaged = ROOT / "router" / "policies"
    assert packaged / "default.yaml" == SHIPPED_POLICY and SHIPPED_POLICY.is_file()
    assert Settings().policy_file == SHIPPED_POLICY
    in_package = sorted(p.relative_to(packaged) for p in packaged.rglob("*.yaml"))
    assert in_package == sorted(p.relative_to(ROOT / "policies") for p in SHIPPED)
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["router"]
    assert all(any(p.relative_to(ROOT / "router").match(pat) for pat in patterns)
               for p in packaged.rglob("*.yaml"))
