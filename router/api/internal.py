"""Optional protection of the gateway's own pages: /metrics, /openapi.json, /docs and /redoc.

Off by default (a scraper and a browser reach them freely, as on most gateways); with
JUNCTION_PROTECT_INTERNAL_ENDPOINTS=true they need the admin token, and /metrics also takes
JUNCTION_METRICS_TOKEN so a Prometheus scraper never holds the admin token.
"""

from __future__ import annotations

import hmac
from typing import cast

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html

from router.api.responses import json_response
from router.errors import AuthenticationFailed
from router.settings import Settings


def check_internal_token(request: Request, *, metrics: bool) -> None:
    """401 unless protection is off or the bearer token is the admin (or metrics) token."""
    settings = cast(Settings, request.app.state.settings)
    if not settings.protect_internal_endpoints:
        return
    accepted = [settings.admin_token]
    if metrics:
        accepted.append(settings.metrics_token)
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and given:
        for token in accepted:
            if token is not None and hmac.compare_digest(
                given.strip().encode(), token.get_secret_value().encode()
            ):
                return
    which = "the admin token or JUNCTION_METRICS_TOKEN" if metrics else "the admin token"
    raise AuthenticationFailed(
        f"{request.url.path} is protected (JUNCTION_PROTECT_INTERNAL_ENDPOINTS=true): send "
        f"'Authorization: Bearer <{which}>'.",
        code="internal_endpoint_protected",
    )


def protected_docs_router(app: FastAPI) -> APIRouter:
    """/openapi.json, /docs and /redoc behind `check_internal_token` (FastAPI's own are off)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/openapi.json")
    async def openapi(request: Request) -> Response:
        check_internal_token(request, metrics=False)
        return json_response(app.openapi())

    @router.get("/docs")
    async def docs(request: Request) -> Response:
        check_internal_token(request, metrics=False)
        return get_swagger_ui_html(openapi_url="/openapi.json", title=app.title + " - docs")

    @router.get("/redoc")
    async def redoc(request: Request) -> Response:
        check_internal_token(request, metrics=False)
        return get_redoc_html(openapi_url="/openapi.json", title=app.title + " - ReDoc")

    return router
