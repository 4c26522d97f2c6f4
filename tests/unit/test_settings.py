"""One Settings, a leaf module; old environment names keep working beside the new ones."""

from __future__ import annotations

import pytest

from router.settings import Settings
from tests.unit.layout.test_imports import RUNTIME, imported_modules


def test_the_settings_module_is_a_leaf() -> None:
    ours = {m for m in imported_modules(RUNTIME / "settings.py") if m.split(".")[0] == "router"}
    assert ours == {"router.classify.types"}  # the Sensitivity enum, itself a leaf


@pytest.mark.parametrize(("env", "url"), [
    ({"JUNCTION_REDIS_URL": "redis://old:6379/0"}, "redis://old:6379/0"),
    ({"JUNCTION_REDIS__URL": "redis://new:6379/0"}, "redis://new:6379/0"),
    ({"JUNCTION_REDIS_URL": "redis://old:6379/0", "JUNCTION_REDIS__URL": "redis://new:6379/0"},
     "redis://new:6379/0"),
    ({}, None),
])
def test_redis_url_under_either_name(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], url: str | None
) -> None:
    for name in ("JUNCTION_REDIS_URL", "JUNCTION_REDIS__URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.redis.url == url and settings.redis_url == url


def test_a_constructor_argument_under_the_old_name_still_works() -> None:
    assert Settings(redis_url="redis://x:1/0").redis.url == "redis://x:1/0"
