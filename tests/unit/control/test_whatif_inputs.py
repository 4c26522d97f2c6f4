"""What-if's reading of a record: the requested model (with the fallback for records stored
before it was kept) and the budget pressure replayed from the recorded share."""

from __future__ import annotations

import orjson

from router.accounts.models import Limits, Principal
from router.classify.types import Sensitivity
from router.control.whatif import _parse, _pressure, _requested, _Row
from tests.unit.stats.builders import make_record

MODELS = {"local": object(), "api": object()}


def row(route: str, **fields: object) -> _Row:
    record = make_record(**fields).model_dump(mode="json")
    record["route"] = route
    for name in ("requested_model", "budget_used_share"):
        if name not in fields:
            del record[name]  # as stored before the field existed
    return _parse([orjson.dumps(record).decode()])[0]


def principal(ratio: float) -> Principal:
    return Principal(key_id="k1", key_prefix="jk_k1", team="t", allowed_models=None,
                     allowed_routes=None, default_sensitivity=Sensitivity.NONE,
                     max_cost_per_request=None, anonymous=False,
                     team_limits=Limits(daily_usd=1.0, soft_limit_ratio=ratio))


def test_the_requested_model_is_replayed_and_old_records_fall_back() -> None:
    assert _requested(row("default", requested_model="api"), MODELS) == "api"
    assert _requested(row("default", requested_model="default"), MODELS) == "default"
    assert _requested(row("default"), MODELS) == "auto"
    assert _requested(row("direct:api"), MODELS) == "api"
    assert _requested(row("direct:gone"), MODELS) == "auto"


def test_budget_pressure_is_a_share_at_or_above_the_soft_limit() -> None:
    assert _pressure(None, principal(0.5)) is None
    assert _pressure(0.49, principal(0.5)) is None
    assert _pressure(0.5, principal(0.5)) is not None
    assert _pressure(0.79, None) is None  # an unknown caller: the default ratio, 0.8
    assert _pressure(0.8, None) is not None
