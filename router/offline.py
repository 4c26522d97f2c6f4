"""Decisions without a server: what `junction route explain` prints."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from router.classify import RuleClassifier
from router.gateway.availability import missing_api_key
from router.gateway.plan import Planner
from router.gateway.scorers import load_scorers
from router.policy.detectors import build_detectors
from router.policy.engine import PolicyEngine
from router.policy.loader import load_policy
from router.policy.signals import PolicySignals


def explain_offline(
    policy_file: Path,
    raw: bytes,
    headers: Mapping[str, str],
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The decision the gateway would make, from the policy and this environment's API keys.

    A model whose key variable is unset is unavailable here as it would be in the server;
    live state (breakers, local load) is not known offline.
    """
    env = os.environ if environ is None else environ
    policy = load_policy(policy_file, env)
    signals = PolicySignals(policy, lambda name: missing_api_key(policy.models[name], env))
    engine = PolicyEngine(policy, signals, scorers=load_scorers(policy, policy_file))
    planner = Planner(RuleClassifier(extra_detectors=build_detectors(policy)), engine)
    return planner.explain(raw, headers)
