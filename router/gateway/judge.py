"""Sampled judging: a share of a route's answers goes to a judge model, whose score is recorded
as feedback for the model that answered. Never for sensitive requests; never on the caller's
time (it runs after the response, in the background)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson

from router.gateway.execute import AllAttemptsFailed, Executor, UpstreamRejected
from router.policy.engine import Decision
from router.policy.schema import Policy
from router.stats.judging import build_judge_messages, parse_judge_score, should_judge
from router.stats.quality import QualityBook

log = logging.getLogger(__name__)


class SampledJudge:
    def __init__(self, policy: Policy, executor: Executor, quality: QualityBook) -> None:
        self.routes = {route.name: route for route in policy.routes if route.judge is not None}
        self.executor = executor
        self.quality = quality

    def wants(self, decision: Decision, request_id: str) -> bool:
        route = self.routes.get(decision.route)
        if route is None or route.judge is None:
            return False
        return should_judge(route.judge.share, request_id,
                            decision.classification.is_sensitive)

    async def judge(
        self, request_id: str, decision: Decision, request: Mapping[str, Any], answer: bytes
    ) -> float | None:
        """Ask the route's judge model to grade one answer; record and return the score."""
        route = self.routes[decision.route]
        assert route.judge is not None
        question = _last_user_text(request)
        text = answer_text(answer)
        if not question or not text:
            return None
        body = {"model": route.judge.model, "temperature": 0, "max_tokens": 200,
                "messages": build_judge_messages(question, text),
                "response_format": _SCORE_FORMAT}
        judge_decision = Decision(
            route=f"judge:{decision.route}", objective="direct", attempts=(route.judge.model,),
            verdicts=(), classification=decision.classification, fail_closed=True,
        )
        try:
            completion, _ = await self.executor.complete(body, judge_decision)
        except (AllAttemptsFailed, UpstreamRejected) as exc:
            log.warning("judge %s failed for %s: %s", route.judge.model, request_id, exc)
            return None
        score = parse_judge_score(answer_text(completion.body))
        if score is None:
            return None
        await self.quality.add_feedback(request_id, score, source="judge")
        return score


# Structured output where the judge supports it; parse_judge_score also reads free text.
_SCORE_FORMAT = {"type": "json_schema", "json_schema": {"name": "grade", "schema": {
    "type": "object",
    "properties": {"score": {"type": "integer", "minimum": 0, "maximum": 10},
                   "reason": {"type": "string"}},
    "required": ["score", "reason"]}}}


def _last_user_text(request: Mapping[str, Any]) -> str:
    for message in reversed(request.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content
                                if isinstance(p, dict) and p.get("type") == "text")
    return ""


def answer_text(body: bytes) -> str:
    """The first choice's message content of a chat completion body, or an empty string."""
    try:
        data = orjson.loads(body)
        content = data["choices"][0]["message"].get("content")
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
        return ""
    return content if isinstance(content, str) else ""
