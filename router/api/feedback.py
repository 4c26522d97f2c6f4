"""`POST /v1/feedback`: a score for a request Junction served, which updates model quality.

Only the request's owner may rate it (see `router.accounts.ownership`); anyone else gets the
same 404 as for an unknown id, so request ids seen in logs or headers reveal nothing.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from router.accounts.ownership import is_admin_token, owns_request
from router.api.deps import read_body
from router.api.responses import json_response
from router.errors import InvalidRequest
from router.gateway.plan import parse_json
from router.protocol import FeedbackRequest, validation_error
from router.stats.records import RequestRecord

router = APIRouter(tags=["feedback"])
log = logging.getLogger("junction.feedback")
FEEDBACK_MAX_BYTES = 64 * 1024  # a score and an id; a fixed cap, not JUNCTION_MAX_BODY_BYTES


@router.post("/v1/feedback", summary="Rate a response (0-1 or thumbs up/down)")
async def feedback(request: Request) -> Response:
    headers = dict(request.headers)
    authorization = headers.get("authorization", "")
    token = authorization[7:].strip() if authorization[:7].lower() == "bearer " else None
    admin = is_admin_token(token, request.app.state.settings.admin_token)
    # The admin token is not a Junction key: with keys required it would be refused as one.
    caller = None if admin else await request.app.state.chat.authenticate(headers)
    data = parse_json(await read_body(request, FEEDBACK_MAX_BYTES,
                                      f"feedback bodies are fixed at {FEEDBACK_MAX_BYTES} bytes"))
    try:
        body = FeedbackRequest.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None
    if (body.score is None) == (body.thumbs is None):
        raise InvalidRequest("give exactly one of 'score' (0-1) and 'thumbs' ('up' or 'down')",
                             param="score")
    score = body.score if body.score is not None else (1.0 if body.thumbs == "up" else 0.0)

    def may_rate(record: RequestRecord) -> bool:
        return admin or owns_request(caller, key_id=record.key_id, team=record.team)

    estimate = await request.app.state.stats.quality_book.add_feedback(
        body.request_id, score, may_rate=may_rate
    )
    if body.comment and request.app.state.settings.log_content:
        # A comment is the caller's own text: logged only where prompts are (content logging).
        log.info("feedback request=%s score=%.2f comment=%r", body.request_id, score,
                 body.comment)
    return json_response({
        "request_id": body.request_id,
        "accepted": True,
        "quality": {"mean": round(estimate.mean, 4), "n": estimate.n,
                    "lower": round(estimate.lower, 4), "upper": round(estimate.upper, 4),
                    "confidence": round(estimate.confidence, 4)},
    })
