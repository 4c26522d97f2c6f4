"""The dashboard's HTML at /dashboard: sign-in (a signed, HttpOnly, SameSite=Strict cookie),
sign-out, six pages and a request's detail. Scripts may send the admin bearer header instead.

Server-rendered with Jinja2 (autoescaped: record fields are attacker-influenced); charts are
drawn by the vendored Chart.js from a JSON block; a strict Content-Security-Policy allows only
this origin's scripts and styles.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from router.api.admin import _bearer, authenticate_admin
from router.api.dashboard_api import Filter
from router.api.deps import read_body
from router.control.roles import Actor, Role, admin_tokens, resolve
from router.dashboard import session
from router.dashboard.pages import BUILDERS, PAGES, RANGES, REFRESH, Sources, Window
from router.errors import NotFound
from router.runtime import RuntimeHolder
from router.settings import Settings
from router.store.requests import RecordFilter, get_record, list_records

HERE = Path(__file__).resolve().parent.parent / "dashboard"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
_SIGN_IN_LIMIT = 4096

templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                        autoescape=select_autoescape(default=True, default_for_string=True))
templates.filters["utc"] = lambda at: datetime.fromtimestamp(at, UTC).strftime(
    "%Y-%m-%d %H:%M:%S")
templates.filters["tourl"] = lambda params, **more: urlencode({**params, **more})
router = APIRouter(prefix="/dashboard", include_in_schema=False)
static = StaticFiles(directory=HERE / "static")


class SignInNeeded(Exception):
    """No session and no bearer: a browser is sent to the sign-in page."""


def _settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def dashboard_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The bearer header (401/403 in the API's error shape) or the session cookie."""
    if credentials is not None:
        return authenticate_admin(request, credentials, Role.VIEWER)
    settings = _settings(request)
    cookie = request.cookies.get(session.COOKIE)
    tokens = admin_tokens(settings.admin_token, settings.admin_tokens)
    actor = session.verify(cookie, tokens, time.time()) if cookie else None
    if actor is None:
        raise SignInNeeded()
    return actor


Signed = Annotated[Actor, Depends(dashboard_actor)]


def _html(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    body = templates.get_template(name).render(pages=PAGES, ranges=list(RANGES),
                                               refreshes=REFRESH, **context)
    return HTMLResponse(body, status_code=status, headers=_headers())


def _headers() -> dict[str, str]:
    return {"content-security-policy": CSP, "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer", "cache-control": "no-store"}


def _sources(request: Request) -> Sources:
    state = request.app.state
    return Sources(state.durable.db, cast(RuntimeHolder, state.runtime).current, state.stats,
                   state.access)


RangeName = Annotated[str, Query(alias="range", pattern="^(" + "|".join(RANGES) + ")$")]
Refresh = Annotated[int, Query(ge=0, le=3600)]


@router.get("", response_class=RedirectResponse)
async def home() -> RedirectResponse:
    return RedirectResponse("/dashboard/traffic", status_code=303)


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page() -> HTMLResponse:
    return _html("sign_in.html", error=None)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = parse_qs((await read_body(request, _SIGN_IN_LIMIT, "the sign-in form")).decode(
        "utf-8", "replace"))
    token = (form.get("token") or [""])[0]
    settings = _settings(request)
    tokens = admin_tokens(settings.admin_token, settings.admin_tokens)
    actor = resolve(token, tokens) if token else None
    spec = next((t for t in tokens if actor is not None and t.name == actor.name), None)
    if spec is None:
        return _html("sign_in.html", status=401, error="That is not an admin token.")
    lifetime = settings.dashboard_session_hours * 3600.0
    response = RedirectResponse("/dashboard/traffic", status_code=303, headers=_headers())
    response.set_cookie(session.COOKIE, session.issue(spec, time.time() + lifetime),
                        max_age=int(lifetime), path="/dashboard", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return response


@router.post("/sign-out")
async def sign_out() -> Response:
    response = RedirectResponse("/dashboard/sign-in", status_code=303, headers=_headers())
    response.delete_cookie(session.COOKIE, path="/dashboard", httponly=True, samesite="strict")
    return response


@router.get("/requests", response_class=HTMLResponse)
async def request_log(
    request: Request, actor: Signed, flt: Filter, range_name: RangeName = "24h",
    refresh: Refresh = 30, cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> HTMLResponse:
    window = Window.last(range_name)
    if flt.since is None:
        flt = _within(flt, window)
    page = await list_records(_sources(request).db, flt, 100, cursor)
    return _html("requests.html", page_id="requests", actor=actor, range_name=range_name,
                 refresh=refresh, rows=page.rows, next_cursor=page.next_cursor,
                 filters=dict(request.query_params), charts={})


@router.get("/requests/{request_id}", response_class=HTMLResponse)
async def request_page(request_id: str, request: Request, actor: Signed) -> HTMLResponse:
    record = await get_record(_sources(request).db, request_id)
    if record is None:
        raise NotFound(f"no request {request_id!r} is stored", param="request_id",
                       code="request_not_found")
    return _html("request.html", page_id="requests", actor=actor, record=record,
                 range_name="24h", refresh=0, charts={})


@router.get("/{page}", response_class=HTMLResponse)
async def page_view(page: str, request: Request, actor: Signed, range_name: RangeName = "24h",
                    refresh: Refresh = 30) -> HTMLResponse:
    build = BUILDERS.get(page)
    if build is None:
        raise NotFound(f"no dashboard page {page!r}; pages are: "
                       f"{', '.join(p for p, _ in PAGES)}")
    window = Window.last(range_name)
    data = await build(_sources(request), window)
    return _html(f"{page}.html", page_id=page, actor=actor, range_name=range_name,
                 refresh=refresh, window=window, **data)


def _within(flt: RecordFilter, window: Window) -> RecordFilter:
    return replace(flt, since=window.since, until=window.until)


def sign_in_redirect(request: Request, exc: Exception) -> Response:
    return RedirectResponse("/dashboard/sign-in", status_code=303, headers=_headers())
