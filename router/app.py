"""`create_app(settings)`: the one place where Junction's objects are built and wired."""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from redis.asyncio import BlockingConnectionPool, Redis
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from router.accounts import AccessService
from router.api import (
    admin,
    anthropic,
    dashboard_api,
    dashboard_pages,
    embeddings,
    feedback,
    health,
    internal,
    openai,
    openai_responses,
    policy_admin,
)
from router.api.responses import error_response
from router.classify import Classifier
from router.control.notify import ChangeBus
from router.control.service import PolicyControl
from router.doors.embeddings import EmbeddingsDoor
from router.errors import JunctionError
from router.gateway.admit import Admission
from router.gateway.background import Background
from router.gateway.finish import Finisher
from router.gateway.service import ChatService
from router.policy.loader import PolicySource, read_policy
from router.policy.schema import Policy
from router.providers.anthropic_http import AnthropicHttpProvider
from router.providers.base import Provider
from router.providers.breaker import CircuitBreakers
from router.providers.openai_http import OpenAIHttpProvider
from router.runtime import RuntimeBuilder, RuntimeHolder
from router.settings import Settings
from router.stats.store import create_stats_store
from router.store.audit import AuditLog
from router.store.policies import PolicyStore
from router.store.state import DurableState, check_deployment
from router.telemetry import Metrics, configure_tracing, shutdown_tracing

log = logging.getLogger("junction")


def create_app(
    settings: Settings | None = None,
    *,
    source: PolicySource | None = None,
    policy: Policy | None = None,
    environ: Mapping[str, str] | None = None,
    classifier: Classifier | None = None,
) -> FastAPI:
    """Build the gateway. Raises `PolicyError` when the policy cannot be loaded.

    `source` is the policy file already read (`junction serve` reads it once per process and
    hands it to its workers); without it the file is read here, once. `policy` replaces what
    the file says (its text still seeds an empty database). `classifier` replaces the default
    `RuleClassifier` (tests use one that sees nothing, to show that the egress guard alone
    keeps sensitive bodies from external models).
    """
    settings = settings or Settings()
    env = os.environ if environ is None else environ
    if source is None and policy is not None:
        text = settings.policy_file.read_text(encoding="utf-8")
        source = PolicySource(settings.policy_file, text, policy)
    source = source or read_policy(settings.policy_file, env)
    policy = policy or source.policy
    for note in policy.deprecations:
        log.warning("policy %s: %s", settings.policy_file, note)
    configure_tracing(settings.otel_exporter)
    check_deployment(settings)
    breakers = CircuitBreakers(settings.breaker.failure_threshold, settings.breaker.cooldown_s,
                               max_retry_after_s=settings.breaker.max_retry_after_s)
    redis = make_redis(settings)
    stats = create_stats_store(settings, redis, quality_priors(policy))
    durable = DurableState(settings)
    access = AccessService.create(settings, redis, durable=durable.wrap_accounts)
    probe_client = httpx.AsyncClient(timeout=httpx.Timeout(2.0, connect=1.0))
    builder = RuntimeBuilder(
        settings, env, breakers=breakers, providers={},
        provider_factory=lambda p: build_providers(p, settings), stats=stats,
        probe_client=probe_client, classifier=classifier,
    )
    runtime = RuntimeHolder(builder.build(policy))
    # Several workers share their metrics through files (set up by `router.server`).
    metrics = Metrics(settings.metrics_dir if settings.workers > 1 else None)
    durable.writer.on_dropped(metrics.records_dropped.inc)
    first = runtime.current
    parts = first.parts()
    admission = Admission(access, parts.prices, Background(),
                          reserve_output_tokens=settings.reserve_output_tokens)
    finisher = Finisher(policy, metrics, recorders=[durable.recorder(stats)],
                        log_content=settings.log_content)
    chat = ChatService(
        planner=parts.planner, admission=admission, executor=parts.executor,
        finisher=finisher, judge=parts.judge, capacity=parts.capacity,
    )
    providers = builder.providers
    control = PolicyControl(
        PolicyStore(durable.db), AuditLog(durable.db), builder, runtime, chat, env,
        accounts=durable.accounts,
        bus=None if redis is None else ChangeBus(redis, f"{settings.stats.key_prefix}:changes"),
        poll_interval_s=settings.store.poll_interval_s,
        notified_poll_interval_s=settings.store.notified_poll_interval_s,
    )
    seed_text = source.text

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await durable.start()
        await control.start(seed_text)
        await stats.start()
        await runtime.current.probe.start()
        await runtime.current.availability.log_startup()
        try:
            yield
        finally:
            await control.close()
            await runtime.current.probe.close()
            await probe_client.aclose()
            await chat.drain()
            await stats.close()
            await access.aclose()
            await durable.close()
            for provider in {id(p): p for p in providers.values()}.values():
                await provider.aclose()
            if redis is not None:
                await redis.aclose()
            shutdown_tracing()  # the spans still batched go out before the process ends

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
        **fastapi_telemetry(),
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.runtime_builder = builder
    app.state.breakers = breakers
    app.state.metrics = metrics
    app.state.chat = chat
    app.state.embeddings = EmbeddingsDoor(chat, settings.embeddings)
    app.state.redis = redis
    app.state.stats = stats
    app.state.access = access
    app.state.durable = durable
    app.state.control = control
    app.include_router(openai.router)
    app.include_router(openai_responses.router)
    app.include_router(embeddings.router)
    app.include_router(anthropic.router)
    app.include_router(feedback.router)
    app.include_router(admin.router)
    app.include_router(policy_admin.router)
    app.include_router(dashboard_api.router)
    app.mount("/dashboard/static", dashboard_pages.static, name="dashboard-static")
    app.include_router(dashboard_pages.router)
    app.include_router(health.router)
    if hidden:
        app.include_router(internal.protected_docs_router(app))
    install_error_handlers(app)
    return app


def fastapi_telemetry() -> dict[str, Any]:
    """FastAPI's own OpenTelemetry spans off, where the installed release has them.

    Junction's request span is the server span: it continues the caller's W3C trace itself and
    carries the GenAI and decision attributes. FastAPI's HTTP, dependency and endpoint spans
    would triple the spans per request (a tenth of the throughput at concurrency 64) and say
    little more.
    """
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False}}


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
    if "anthropic" in backends:
        providers["anthropic"] = AnthropicHttpProvider(settings.timeouts, limits=settings.limits)
    if "litellm" in backends:
        from router.providers.litellm_provider import LiteLLMProvider

        providers["litellm"] = LiteLLMProvider(settings.timeouts)
    return providers


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves through `error_response`: `{"error": {"message", "type", "param",
    "code", "request_id"}}` with the status and headers it maps to."""

    async def any_error(request: Request, exc: Exception) -> Response:
        return error_response(exc, request.method, request.url.path)

    for kind in (JunctionError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, any_error)

    app.add_exception_handler(dashboard_pages.SignInNeeded, dashboard_pages.sign_in_redirect)

    @app.exception_handler(openai.ClientDisconnected)
    async def disconnected(request: Request, exc: openai.ClientDisconnected) -> Response:
        # Nobody is listening; 499 (nginx's "client closed request") for the logs.
        return Response(status_code=499)
