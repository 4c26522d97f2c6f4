"""Records stored before the dashboard's fields existed still load, with their defaults."""

from __future__ import annotations

import orjson

from router.stats.records import RequestRecord

OLD = {
    "request_id": "r1", "time": 1.0, "route": "default",
    "classification": {"task": "chat", "difficulty": 0.1, "sensitivity": "none"},
    "total_ms": 3.0, "status": 200, "answered_by": "local",
}


def test_an_old_record_loads_without_the_new_fields() -> None:
    record = RequestRecord.model_validate_json(orjson.dumps(OLD))
    assert (record.spill_reason, record.policy_version, record.decision) == (None, None, None)
    assert record.answered_local is None and record.sent_external is False
