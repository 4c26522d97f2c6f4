"""Which models can serve now and which routes have one: what readiness and start-up report.

A local endpoint counts only if its `/v1/models` lists the policy's model name: vLLM answers
404 to any other name while its health stays green, so a name that differs from the launch
profile's `--served-model-name` would otherwise fail every request behind a green readiness.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
import orjson
from pydantic import SecretStr

from router.policy.schema import ModelSpec, Policy

log = logging.getLogger("junction")

# Bounded: a hostile or broken endpoint cannot make readiness read megabytes.
_MAX_MODELS_BODY = 1 << 20


def missing_api_key(spec: ModelSpec, environ: Mapping[str, str]) -> str | None:
    """Why a model cannot be called for lack of a key; the same words serving and explain use."""
    if spec.api_key_env and not environ.get(spec.api_key_env):
        return f"API key variable {spec.api_key_env} is not set"
    return None


def models_url(endpoint: str) -> str:
    base = endpoint.rstrip("/")
    return (base if base.endswith("/v1") else base + "/v1") + "/models"


async def served_model_problem(
    client: httpx.AsyncClient, endpoint: str, model: str, api_key: SecretStr | None = None
) -> str | None:
    """None when `endpoint` lists `model` in its /v1/models; else what is wrong and the fix."""
    url = models_url(endpoint)
    headers = {} if api_key is None else {
        "authorization": "Bearer " + api_key.get_secret_value()}
    try:
        response = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        return f"nothing answers at {url} ({type(exc).__name__}: {exc or 'no detail'})"
    if response.status_code != 200:
        return f"{url} answered HTTP {response.status_code}"
    served = _model_ids(response.content)
    if served is None:
        return f"{url} did not answer an OpenAI model list"
    if model in served:
        return None
    shown = ", ".join(sorted(served)[:10]) or "none"
    return (f"{endpoint} serves {shown}, not {model!r}: set the policy's 'model' (or "
            f"JUNCTION_LOCAL_MODEL) to the served name, or start vLLM with "
            f"--served-model-name {model}")


def _model_ids(body: bytes) -> set[str] | None:
    if len(body) > _MAX_MODELS_BODY:
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None
    return {item["id"] for item in items if isinstance(item, dict) and isinstance(
        item.get("id"), str)}


@dataclass(frozen=True, slots=True)
class RouteStatus:
    """One route's models that can serve now, and why the others cannot."""

    route: str
    available: tuple[str, ...]
    unavailable: Mapping[str, str]
    # Embedding routes are reported but do not hold readiness: a gateway without its embedding
    # server still serves chat, and should not be taken out of service for it.
    required: bool = True

    @property
    def ok(self) -> bool:
        return bool(self.available)

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "available": list(self.available),
                "unavailable": dict(self.unavailable),
                **({} if self.required else {"required": False})}


class Availability:
    """Checks every model the policy names: API keys, the live state serving reads (breakers,
    the capacity probe), and for local models whether their endpoints serve the model name."""

    def __init__(
        self,
        policy: Policy,
        client: httpx.AsyncClient,
        unavailable: Callable[[str], str | None],
        api_keys: Mapping[str, SecretStr | None] | None = None,
    ) -> None:
        self.policy = policy
        self.client = client
        self.unavailable = unavailable
        self.api_keys = dict(api_keys or {})

    async def model_reasons(self) -> dict[str, str | None]:
        """Every model of the policy -> None when it can serve, else why not."""
        reasons: dict[str, str | None] = {}
        checks: dict[str, asyncio.Task[str | None]] = {}
        for name, spec in self.policy.models.items():
            reasons[name] = self.unavailable(name)
            if reasons[name] is None and spec.backend == "local":
                checks[name] = asyncio.ensure_future(
                    self._local_problem(spec, self.api_keys.get(name)))
        for name, task in checks.items():
            reasons[name] = await task
        return reasons

    async def _local_problem(self, spec: ModelSpec, api_key: SecretStr | None) -> str | None:
        problems = await asyncio.gather(*(
            served_model_problem(self.client, url, spec.model, api_key)
            for url in spec.endpoints))
        if any(problem is None for problem in problems):
            return None
        return "; ".join(p for p in problems if p is not None)

    async def routes(self, reasons: Mapping[str, str | None] | None = None
                     ) -> list[RouteStatus]:
        """Each route with the models it may use that can serve now."""
        if reasons is None:
            reasons = await self.model_reasons()
        out = []
        for route in self.policy.routes:
            kind = self.policy.route_kind(route)
            names = dict.fromkeys([*route.candidates, *route.fallbacks])
            if route.on_unavailable == "fallback":
                names.update(dict.fromkeys(m for m in self.policy.defaults.fallbacks
                                           if self.policy.models[m].kind == kind))
            out.append(RouteStatus(
                route=route.name,
                available=tuple(n for n in names if reasons[n] is None),
                unavailable={n: r for n in names if (r := reasons[n]) is not None},
                required=kind == "chat",
            ))
        return out

    async def log_startup(self) -> None:
        """One warning per model that cannot serve, with the reason; one per route left bare."""
        reasons = await self.model_reasons()
        for name, reason in reasons.items():
            if reason is not None:
                log.warning("model %s is unavailable: %s", name, reason)
        for status in await self.routes(reasons):
            if not status.ok and status.required:
                log.warning("route %s has no model that can serve now; /health/ready answers "
                            "503 until one can", status.route)
            elif not status.ok:
                log.warning("embedding route %s has no model that can serve now; "
                            "/v1/embeddings answers 503 on it until one can", status.route)
