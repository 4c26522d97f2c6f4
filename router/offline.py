"""Decisions without a server: what `junction route explain` prints."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from router.classify import RuleClassifier
from router.exchange import parse_json
from router.policy.detectors import build_detectors
from router.policy.engine import PolicyEngine
from router.policy.loader import load_policy
from router.policy.signals import PolicySignals
from router.scorers import load_scorers
from router.serving import ChatService
from router.telemetry import Metrics


def explain_offline(policy_file: Path, raw: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    policy = load_policy(policy_file)
    signals = PolicySignals(policy)
    engine = PolicyEngine(policy, signals, scorers=load_scorers(policy, policy_file))
    service = ChatService(
        classifier=RuleClassifier(extra_detectors=build_detectors(policy)),
        engine=engine, executor=None,  # type: ignore[arg-type]
        prices=signals, metrics=Metrics(),
    )
    parse_json(raw)
    return service.explain(raw, headers)
