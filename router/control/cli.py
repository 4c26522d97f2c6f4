"""`junction policy push | history | rollback`: the policy admin API from the shell.

They talk to a running gateway (`--url`, default http://JUNCTION_HOST:JUNCTION_PORT) with an
admin token (`--token`, default JUNCTION_ADMIN_TOKEN).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx


def register_policy_commands(policy_sub: Any) -> None:
    push = policy_sub.add_parser("push", help="store a policy file as a new version")
    push.add_argument("file", type=Path)
    push.add_argument("--comment", help="why this version")
    push.add_argument("--activate", action="store_true", help="and activate it")
    _connection(push)
    push.set_defaults(handler=_push)

    history = policy_sub.add_parser("history", help="list the stored policy versions")
    _connection(history)
    history.set_defaults(handler=_history)

    rollback = policy_sub.add_parser("rollback", help="activate the previous active version")
    _connection(rollback)
    rollback.set_defaults(handler=_rollback)


def _connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="the gateway (default http://JUNCTION_HOST:JUNCTION_PORT)")
    parser.add_argument("--token", help="an admin token (default JUNCTION_ADMIN_TOKEN)")


class _Failed(Exception):
    pass


def _client(args: argparse.Namespace) -> httpx.Client:
    from router.settings import Settings

    settings = Settings()
    url = args.url or f"http://{settings.host}:{settings.port}"
    token = args.token or (settings.admin_token.get_secret_value() if settings.admin_token
                           else None)
    if not token:
        raise _Failed("no admin token: pass --token or set JUNCTION_ADMIN_TOKEN")
    return httpx.Client(base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=30)


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    try:
        r = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise _Failed(f"cannot reach {client.base_url}: {type(exc).__name__}: {exc}") from exc
    if r.status_code >= 400:
        try:
            error = r.json()["error"]
        except (ValueError, KeyError, TypeError):
            raise _Failed(f"{method} {path}: HTTP {r.status_code}") from None
        lines = [f"{method} {path}: {r.status_code} {error.get('code')}: {error.get('message')}"]
        lines += [f"  {e}" for e in (error.get("junction") or {}).get("errors", [])]
        raise _Failed("\n".join(lines))
    return r.json()


def _run(args: argparse.Namespace, action: Any) -> int:
    try:
        with _client(args) as client:
            action(client)
    except _Failed as exc:
        print(f"junction: {exc}", file=sys.stderr)
        return 1
    return 0


def _push(args: argparse.Namespace) -> int:
    try:
        text = args.file.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"junction: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2

    def action(client: httpx.Client) -> None:
        version = _call(client, "POST", "/admin/policy/versions",
                        json={"yaml": text, "comment": args.comment})
        for warning in version.get("warnings", []):
            print(f"warning: {warning}", file=sys.stderr)
        print(f"stored version {version['id']} ({version['hash'][:12]})")
        if args.activate:
            _call(client, "POST", f"/admin/policy/versions/{version['id']}/activate")
            print(f"activated version {version['id']}")

    return _run(args, action)


def _history(args: argparse.Namespace) -> int:
    def action(client: httpx.Client) -> None:
        for v in _call(client, "GET", "/admin/policy/versions")["data"]:
            mark = "*" if v["active"] else " "
            created = _short(v["created_at"])
            print(f"{mark} {v['id']:>4}  {v['hash'][:12]}  {created}  {v['created_by']:<16} "
                  f"{v['comment'] or ''}")

    return _run(args, action)


def _rollback(args: argparse.Namespace) -> int:
    def action(client: httpx.Client) -> None:
        version = _call(client, "POST", "/admin/policy/rollback")
        print(f"rolled back: version {version['id']} ({version['hash'][:12]}) is active")

    return _run(args, action)


def _short(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
