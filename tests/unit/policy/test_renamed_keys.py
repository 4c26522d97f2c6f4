"""Renamed policy keys: the old names still load, as the new ones, and are warned about."""

from __future__ import annotations

import pytest

from router.errors import PolicyError
from router.policy.check import policy_warnings
from router.policy.loader import parse_policy

OLD = """
models:
  m: {backend: local, model: x, endpoints: ["http://127.0.0.1:1"]}
routes:
  - name: all
    candidates: [m]
    explore: 0.1
    constraints: {max_cost_per_request: 0.01}
    spill: {max_waiting: 2, max_queue: 5}
"""
NEW = (OLD.replace("explore:", "explore_share:")
       .replace("max_cost_per_request:", "max_cost_per_request_usd:")
       .replace("max_queue:", "fail_closed_max_waiting:"))


def test_old_names_load_as_the_new_ones_with_a_warning_each() -> None:
    old = parse_policy(OLD, source="old.yaml", environ={})
    new = parse_policy(NEW, source="new.yaml", environ={})
    assert old.model_dump() == new.model_dump()
    route = old.routes[0]
    assert route.explore_share == 0.1
    assert route.constraints.max_cost_per_request_usd == 0.01
    assert route.spill is not None and route.spill.fail_closed_max_waiting == 5
    assert new.deprecations == () and not any("old name" in w for w in policy_warnings(new))
    warned = [w for w in policy_warnings(old) if "old name" in w]
    assert warned == [
        "line 7: routes[0].explore is the old name of 'explore_share'; it still works in this "
        "release but will not in the next: rename it",
        "line 8: routes[0].constraints.max_cost_per_request is the old name of "
        "'max_cost_per_request_usd'; it still works in this release but will not in the next: "
        "rename it",
        "line 9: routes[0].spill.max_queue is the old name of 'fail_closed_max_waiting'; it "
        "still works in this release but will not in the next: rename it",
    ]


def test_both_names_at_once_is_an_error_naming_the_old_key() -> None:
    both = OLD.replace("explore: 0.1", "explore: 0.1\n    explore_share: 0.2")
    with pytest.raises(PolicyError, match=r"routes\[0\]\.explore: unknown key"):
        parse_policy(both, source="both.yaml", environ={})


SCORED = """
models:
  weak: {backend: local, model: x, endpoints: ["http://127.0.0.1:1"]}
  strong: {backend: local, model: y, endpoints: ["http://127.0.0.1:2"]}
routes:
  - name: all
    candidates: [weak, strong]
    router:
      path: scorer-dir
      strong: strong
      weak: weak
      router_strong: big
      router_weak: small
"""


def test_the_router_block_loads_as_scorer_with_its_model_names_renamed_too() -> None:
    old = parse_policy(SCORED, source="old.yaml", environ={})
    new = parse_policy(SCORED.replace("router:", "scorer:").replace("router_", "scorer_"),
                       source="new.yaml", environ={})
    assert old.model_dump() == new.model_dump()
    scorer = old.routes[0].scorer
    assert scorer is not None
    assert (scorer.strong, scorer.scorer_strong, scorer.scorer_weak) == ("strong", "big", "small")
    assert new.deprecations == ()
    assert [w for w in policy_warnings(old) if "old name" in w] == [
        f"line {line}: routes[0].{path} is the old name of '{new_name}'; it still works in this "
        "release but will not in the next: rename it"
        for line, path, new_name in [(12, "router.router_strong", "scorer_strong"),
                                     (13, "router.router_weak", "scorer_weak"),
                                     (8, "router", "scorer")]
    ]


def test_old_model_names_inside_a_new_scorer_block_are_renamed_and_warned_about() -> None:
    mixed = parse_policy(SCORED.replace("router:", "scorer:"), source="mixed.yaml", environ={})
    scorer = mixed.routes[0].scorer
    assert scorer is not None and scorer.scorer_weak == "small"
    assert [w.split(" is ")[0] for w in mixed.deprecations] == [
        "line 12: routes[0].scorer.router_strong", "line 13: routes[0].scorer.router_weak"]


def test_router_and_scorer_together_is_an_error_naming_the_old_key() -> None:
    both = SCORED.replace("    router:\n", "    scorer: {path: p, strong: strong, weak: weak}\n"
                          "    router:\n")
    with pytest.raises(PolicyError, match=r"routes\[0\]\.router: unknown key"):
        parse_policy(both, source="both.yaml", environ={})
