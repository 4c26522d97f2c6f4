"""The request path's rooms without a server: planning, admission, finishing, background."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from router.classify import RuleClassifier
from router.errors import InvalidRequest, NotFound
from router.gateway.admit import Admission
from router.gateway.background import Background
from router.gateway.execute import AllAttemptsFailed, Attempt, Outcome, UpstreamRejected
from router.gateway.finish import Finished, Finisher, spill_header
from router.gateway.plan import PlannedRequest, Planner
from router.policy.decision import Decision
from router.policy.engine import PolicyEngine
from router.policy.loader import parse_policy
from router.policy.signals import PolicySignals
from router.providers.base import AttemptFailed, Usage
from router.telemetry import Metrics

POLICY = """
models:
  local:
    backend: local
    model: q
    endpoints: ["http://127.0.0.1:9"]
  api:
    backend: openai
    model: a
    endpoints: ["http://127.0.0.1:10"]
    prices: {input_per_million: 1.0, output_per_million: 2.0}
routes:
  - name: private
    match: {sensitivity: [pii, confidential, secret]}
    candidates: [local]
    on_unavailable: reject
  - name: default
    candidates: [local, api]
"""
HELLO = orjson.dumps({"model": "auto", "messages": [{"role": "user", "content": "hello"}]})


def planner(unavailable: dict[str, str] | None = None) -> Planner:
    policy = parse_policy(POLICY, source="t", environ={})
    signals = PolicySignals(policy, (unavailable or {}).get)
    return Planner(RuleClassifier(), PolicyEngine(policy, signals))


def finisher(recorders: list[object] | None = None) -> Finisher:
    policy = parse_policy(POLICY, source="t", environ={})
    return Finisher(policy, Metrics(), recorders=recorders)  # type: ignore[arg-type]


def planned(body: bytes = HELLO, unavailable: dict[str, str] | None = None
            ) -> tuple[PlannedRequest, Decision]:
    p = planner(unavailable)
    req = p.prepare(body, {})
    return req, p.decide(req)


# -- plan -------------------------------------------------------------------------------------

def test_prepare_parses_classifies_and_names_the_request() -> None:
    req, decision = planned()
    assert req.request_id.startswith("jr-") and req.chat.model == "auto"
    assert req.ctx.requested_model == "auto" and req.ctx.messages
    assert decision.route == "default" and decision.attempts[0] == "local"


@pytest.mark.parametrize(("body", "code"), [
    (b"", "invalid_request"), (b"{not json", "invalid_json"),
    (b"[" * 200 + b"]" * 200, "invalid_json"),
])
def test_prepare_refuses_bodies_it_cannot_read(body: bytes, code: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        planner().prepare(body, {})
    assert caught.value.code == code


def test_an_unknown_model_is_a_404_that_lists_the_choices() -> None:
    p = planner()
    req = p.prepare(orjson.dumps({"model": "gpt-9", "messages": [
        {"role": "user", "content": "hi"}]}), {})
    with pytest.raises(NotFound) as caught:
        p.decide(req)
    assert "'gpt-9'" in caught.value.message
    assert "api, auto, default, local, private" in caught.value.message


def test_explain_keeps_its_fields_and_adds_kinds() -> None:
    out = planner().explain(HELLO, {"x-junction-sensitivity": "pii"})
    assert out["requested_model"] == "auto" and out["route"] == "private"
    assert out["choice"] == "local" and out["rejection"] is None
    candidates = out["candidates"]
    assert isinstance(candidates, list) and candidates[0]["kind"] == "eligible"


# -- finish -----------------------------------------------------------------------------------

def test_no_refusal_when_the_decision_has_attempts() -> None:
    req, decision = planned()
    assert finisher().refusal(req, decision) is None


def test_a_fail_closed_refusal_is_a_503_with_retry_after_and_the_request_id() -> None:
    _, open_route = planned(unavailable={"local": "circuit open"})
    assert open_route.attempts == ("api",)  # the default route falls over to the API
    pii_req, pii = planned(orjson.dumps({"model": "private", "messages": [
        {"role": "user", "content": "hi"}]}), unavailable={"local": "circuit open"})
    fin = finisher()
    error = fin.refusal(pii_req, pii)
    assert error is not None and error.status_code == 503
    assert error.code == "no_model_available"  # fail-closed route, nothing sensitive
    assert error.headers["retry-after"] == "5"
    assert error.headers["x-junction-request-id"] == pii_req.request_id
    assert error.details["request_id"] == pii_req.request_id
    assert fin.metrics.registry.get_sample_value(
        "junction_rejected_total", {"code": "no_model_available"}) == 1


def test_every_candidate_failing_on_an_open_route_is_a_502_naming_the_attempts() -> None:
    req, decision = planned()
    outcome = Outcome(attempts=[Attempt("local", None, "connect_error", 1.0),
                                Attempt("api", None, "http_500", 2.0, "boom")])
    reply = asyncio.run(finisher().failed(req, decision, AllAttemptsFailed(outcome, None)))
    assert reply.status == 502 and reply.body is not None
    error = orjson.loads(reply.body)["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    assert error["request_id"] == req.request_id
    assert "local: connect_error; api: http_500 (boom)" in error["message"]
    assert reply.headers["x-junction-attempts"] == "local:connect_error,api:http_500"
    assert "x-junction-model" not in reply.headers and "retry-after" not in reply.headers


def test_an_upstream_rejection_keeps_an_openai_body_and_wraps_any_other() -> None:
    req, decision = planned()
    outcome = Outcome(attempts=[Attempt("api", None, "http_400", 1.0)])
    theirs = b'{"error": {"message": "bad", "type": "invalid_request_error"}}'
    fin = finisher()
    kept = asyncio.run(fin.failed(req, decision, UpstreamRejected(outcome, AttemptFailed(
        "http_400", "bad", retryable=False, status=400, body=theirs))))
    assert kept.status == 400 and kept.body is not None
    assert orjson.loads(kept.body)["error"] == {
        "message": "bad", "type": "invalid_request_error", "request_id": req.request_id}
    wrapped = asyncio.run(fin.failed(req, decision, UpstreamRejected(outcome, AttemptFailed(
        "http_422", "teapot", retryable=False, status=422, body=b"<html>"))))
    assert wrapped.status == 422 and wrapped.body is not None
    assert orjson.loads(wrapped.body)["error"]["code"] == "upstream_rejected"


def test_recorders_run_after_the_reply_and_a_broken_one_fails_nothing() -> None:
    seen: list[Finished] = []

    def broken(done: Finished) -> None:
        raise RuntimeError("disk full")

    async def run() -> None:
        recorded = asyncio.Event()

        def good(done: Finished) -> None:
            seen.append(done)
            recorded.set()

        fin = finisher([broken, good])
        req, decision = planned()
        done = fin.finished(req, decision, Outcome(model="api"), Usage(), 0.0, 200, 5.0, 5.0,
                            streamed=False)
        await fin.finish(done)
        assert seen == []  # not yet: recording waits for the next turn of the loop
        await recorded.wait()

    asyncio.run(run())
    assert len(seen) == 1 and seen[0].status == 200


def test_a_request_answered_by_a_model_a_new_policy_dropped_is_counted_without_residency(
) -> None:
    """After an activation the finisher reads the new policy; a request that started on the
    old one and was answered by a model the new one lacks must still finish and count."""
    fin = finisher()
    fin.policy = parse_policy(POLICY.replace("api", "other"), source="t", environ={})
    req, decision = planned()

    async def run() -> None:
        for model in ("api", "local"):
            await fin.finish(fin.finished(req, decision, Outcome(model=model), Usage(), 0.0,
                                          200, 5.0, 5.0, streamed=False))

    asyncio.run(run())
    sample = fin.metrics.registry.get_sample_value
    assert sample("junction_requests_total", {"route": "default", "model": "api",
                                              "status": "200"}) == 1.0
    assert sample("junction_requests_by_residency_total",
                  {"residency": "local", "sensitivity": "none"}) == 1.0
    assert sample("junction_requests_by_residency_total",
                  {"residency": "external", "sensitivity": "none"}) is None


def test_the_spill_header_names_the_load_not_the_sentence() -> None:
    from dataclasses import replace

    from router.policy.decision import VerdictKind

    _, decision = planned()
    local = next(v for v in decision.verdicts if v.model == "local")
    spilled = replace(decision, verdicts=(replace(
        local, spilled=True, kind=VerdictKind.SPILLED, saturation="waiting 3 > 1",
        reason="any wording at all"),))
    assert spill_header(spilled) == "local: local saturated (waiting 3 > 1)"


# -- admit and background ---------------------------------------------------------------------

def test_without_accounts_admission_is_a_no_op() -> None:
    async def run() -> None:
        admission = Admission(None, PolicySignals(parse_policy(POLICY, source="t", environ={})),
                              Background())
        assert await admission.caller({"authorization": "Bearer x"}) == (None, None)
        req, decision = planned()
        await admission.admit(req, decision)
        assert req.reservation is None
        admission.settle(req, 1.0)
        admission.release(req)
        assert len(admission.background) == 0

    asyncio.run(run())


def test_drain_waits_for_work_spawned_off_the_request_path() -> None:
    async def run() -> None:
        background = Background()
        started, release = asyncio.Event(), asyncio.Event()
        finished: list[bool] = []

        async def work() -> None:
            started.set()
            await release.wait()
            finished.append(True)

        background.spawn(work())
        await started.wait()
        assert len(background) == 1
        release.set()
        await background.drain()
        assert finished == [True] and len(background) == 0

    asyncio.run(run())
