"""`create_app(settings)`: the one place where Junction's objects are built and wired."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import SecretStr
from redis.asyncio import BlockingConnectionPool, Redis
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from local_backend.probe import CapacityProbe
from router.accounts import AccessService
from router.api import admin, feedback, health, internal, openai
from router.api.responses import error_response
from router.classify import Classifier, RuleClassifier
from router.classify.sensitivity import warm_up
from router.errors import JunctionError
from router.gateway.admit import Admission
from router.gateway.availability import Availability
from router.gateway.background import Background
from router.gateway.capacity import LocalCapacity
from router.gateway.egress import EgressGuard
from router.gateway.execute import Executor
from router.gateway.finish import Finisher
from router.gateway.judge import SampledJudge
from router.gateway.live_signals import LiveSignals
from router.gateway.plan import Planner
from router.gateway.recording import stats_recorder
from router.gateway.scorers import load_scorers
from router.gateway.service import ChatService
from router.policy.detectors import build_detectors
from router.policy.engine import PolicyEngine
from router.policy.loader import load_policy
from router.policy.schema import Policy
from router.policy.signals import PolicySignals
from router.providers.base import Provider
from router.providers.breaker import CircuitBreakers
from router.providers.openai_http import OpenAIHttpProvider
from router.settings import Settings
from router.stats.store import create_stats_store
from router.telemetry import Metrics, configure_tracing

log = logging.getLogger("junction")


def create_app(
    settings: Settings | None = None,
    *,
    policy: Policy | None = None,
    environ: Mapping[str, str] | None = None,
    classifier: Classifier | None = None,
) -> FastAPI:
    """Build the gateway. Raises `PolicyError` when the policy cannot be loaded.

    `classifier` replaces the default `RuleClassifier` (tests use one that sees nothing, to
    show that the egress guard alone keeps sensitive bodies from external models).
    """
    settings = settings or Settings()
    env = os.environ if environ is None else environ
    policy = policy or load_policy(settings.policy_file, env)
    for note in policy.deprecations:
        log.warning("policy %s: %s", settings.policy_file, note)
    configure_tracing(settings.otel_exporter)
    api_keys = read_api_keys(policy, env)
    breakers = CircuitBreakers(settings.breaker.failure_threshold, settings.breaker.cooldown_s,
                               max_retry_after_s=settings.breaker.max_retry_after_s)
    providers = build_providers(policy, settings)

    def unavailable(model: str) -> str | None:
        spec = policy.models[model]
        if spec.api_key_env and api_keys.get(model) is None:
            return f"API key variable {spec.api_key_env} is not set"
        return breakers.blocked_reason(model)

    redis = make_redis(settings)
    stats = create_stats_store(settings, redis, quality_priors(policy))
    access = AccessService.create(settings, redis)
    probe_client = httpx.AsyncClient(timeout=httpx.Timeout(2.0, connect=1.0))
    probe = CapacityProbe(LocalCapacity.endpoints_of(policy), probe_client,
                          interval_s=settings.probe_interval_s)
    capacity = LocalCapacity(policy, probe)
    signals = LiveSignals(PolicySignals(policy, unavailable), stats, capacity)
    scorers = load_scorers(policy, settings.policy_file, stats.shares)
    engine = PolicyEngine(policy, signals, scorers=scorers)
    # The classifier and the egress guard must use the same detectors.
    extra_detectors = build_detectors(policy)
    warm_up(extra_detectors)
    availability = Availability(policy, probe_client, signals.unavailable_reason, api_keys)
    executor = Executor(policy, providers, breakers, api_keys, settings.timeouts.first_byte_s,
                        endpoint_load=capacity.endpoint_rank,
                        guard=EgressGuard(extra_detectors),
                        attempt_total_s=settings.timeouts.attempt_total_s,
                        request_total_s=settings.timeouts.request_total_s)
    metrics = Metrics()
    planner = Planner(classifier or RuleClassifier(extra_detectors=extra_detectors), engine)
    admission = Admission(access, signals, Background(),
                          reserve_output_tokens=settings.reserve_output_tokens)
    finisher = Finisher(policy, metrics, recorders=[stats_recorder(stats)],
                        log_content=settings.log_content)
    chat = ChatService(
        planner=planner, admission=admission, executor=executor, finisher=finisher,
        judge=SampledJudge(policy, executor, stats.quality_book), capacity=capacity,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await stats.start()
        await probe.start()
        await availability.log_startup()
        try:
            yield
        finally:
            await probe.close()
            await probe_client.aclose()
            await chat.drain()
            await stats.close()
            await access.aclose()
            for provider in {id(p): p for p in providers.values()}.values():
                await provider.aclose()
            if redis is not None:
                await redis.aclose()

    # Protected, the schema and docs are served by our own handlers that check the token.
    hidden = settings.protect_internal_endpoints
    app = FastAPI(
        title="Junction",
        version="0.1.0",
        description="An OpenAI-compatible LLM gateway that routes each request by policy.",
        lifespan=lifespan,
        openapi_url=None if hidden else "/openapi.json",
        docs_url=None if hidden else "/docs",
        redoc_url=None if hidden else "/redoc",
    )
    app.state.settings = settings
    app.state.breakers = breakers
    app.state.metrics = metrics
    app.state.chat = chat
    app.state.redis = redis
    app.state.stats = stats
    app.state.access = access
    app.state.availability = availability
    app.include_router(openai.router)
    app.include_router(feedback.router)
    app.include_router(admin.router)
    app.include_router(health.router)
    if hidden:
        app.include_router(internal.protected_docs_router(app))
    install_error_handlers(app)
    return app


def app_factory() -> FastAPI:
    """For `uvicorn --factory` (several workers): settings come from the environment."""
    return create_app(Settings())


def make_redis(settings: Settings) -> Redis | None:
    """One client for the whole app; request-path calls bound their own waits."""
    if not settings.redis.url:
        return None
    # Bounded and blocking: a burst waits for a pooled connection instead of opening one per
    # request (a 200-request burst once opened 208), which made a healthy Redis look down.
    pool = BlockingConnectionPool.from_url(
        settings.redis.url,
        max_connections=settings.redis.max_connections,
        timeout=max(settings.redis.timeout_ms / 1000.0, 0.5),
        socket_connect_timeout=max(settings.redis.timeout_ms / 1000.0, 0.5),
        health_check_interval=30,
    )
    return Redis.from_pool(pool)


def quality_priors(policy: Policy) -> dict[str, dict[str, float]]:
    return {task.value: dict(table) for task, table in policy.quality.items()}


def build_providers(policy: Policy, settings: Settings) -> dict[str, Provider]:
    backends = {spec.backend for spec in policy.models.values()}
    providers: dict[str, Provider] = {}
    if backends & {"local", "openai"}:
        http = OpenAIHttpProvider(settings.timeouts, limits=settings.limits)
        providers["local"] = http
        providers["openai"] = http
    if "litellm" in backends:
        from router.providers.litellm_provider import LiteLLMProvider

        providers["litellm"] = LiteLLMProvider(settings.timeouts)
    return providers


def read_api_keys(policy: Policy, environ: Mapping[str, str]) -> dict[str, SecretStr | None]:
    keys: dict[str, SecretStr | None] = {}
    for name, spec in policy.models.items():
        value = environ.get(spec.api_key_env) if spec.api_key_env else None
        keys[name] = SecretStr(value) if value else None
    return keys


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves through `error_response`: `{"error": {"message", "type", "param",
    "code", "request_id"}}` with the status and headers it maps to."""

    async def any_error(request: Request, exc: Exception) -> Response:
        return error_response(exc, request.method, request.url.path)

    for kind in (JunctionError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, any_error)

    @app.exception_handler(openai.ClientDisconnected)
    async def disconnected(request: Request, exc: openai.ClientDisconnected) -> Response:
        # Nobody is listening; 499 (nginx's "client closed request") for the logs.
        return Response(status_code=499)
