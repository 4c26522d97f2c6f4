"""Liveness, readiness and the Prometheus scrape endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from router.api.internal import check_internal_token
from router.api.responses import json_response
from router.gateway.availability import Availability

router = APIRouter(tags=["health"])


@router.get("/health/live", summary="The process is up")
async def live() -> Response:
    return json_response({"status": "ok"})


@router.get("/health/ready",
            summary="Ready: providers loaded, shared state reachable, every route has a model")
async def ready(request: Request) -> Response:
    checks: dict[str, object] = {"policy": "ok"}
    ok = True
    redis = getattr(request.app.state, "redis", None)
    if redis is not None:
        try:
            await redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:  # any failure means not ready; say which
            checks["redis"] = f"unreachable: {type(exc).__name__}"
            ok = False
    loading = sorted(name for name, provider in request.app.state.runtime_builder.providers.items()
                     if getattr(provider, "loading", False))
    if loading:
        # litellm's import holds the GIL for seconds: a replica taking traffic meanwhile
        # answers every request slowly, so it is not ready until the import is done.
        checks["providers"] = {name: "still loading" for name in loading}
        ok = False
    availability: Availability = request.app.state.runtime.current.availability
    routes = await availability.routes()
    checks["routes"] = {status.route: status.to_dict() for status in routes}
    ok = ok and all(status.ok for status in routes if status.required)
    return json_response({"status": "ok" if ok else "unavailable", "checks": checks},
                         status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    check_internal_token(request, metrics=True)
    return Response(request.app.state.metrics.render(),
                    media_type="text/plain; version=0.0.4; charset=utf-8")
