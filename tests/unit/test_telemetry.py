"""The directory several workers share their Prometheus metrics in."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.telemetry import MULTIPROC_ENV, share_metrics


@pytest.fixture(autouse=True)
def _restore_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # share_metrics sets these for the workers it is about to start; keep them out of others.
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    monkeypatch.delenv("JUNCTION_METRICS_DIR", raising=False)


def test_a_given_directory_is_emptied_of_an_earlier_start(tmp_path: Path) -> None:
    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_123.db").write_bytes(b"old")
    (given / "histogram_123.db").write_bytes(b"old")
    (given / "keep.txt").write_text("not ours")
    path, owned = share_metrics(given)
    assert (path, owned) == (given, False)
    assert sorted(p.name for p in given.iterdir()) == ["keep.txt"]
    import os

    assert os.environ[MULTIPROC_ENV] == str(given)
    # The directory reaches the workers in their settings, not through Junction's variable.
    assert "JUNCTION_METRICS_DIR" not in os.environ


def test_without_one_each_start_gets_a_fresh_directory() -> None:
    first, owned = share_metrics(None)
    second, _ = share_metrics(None)
    try:
        assert owned and first != second
        assert first.is_dir() and not any(first.iterdir())
    finally:
        first.rmdir()
        second.rmdir()
