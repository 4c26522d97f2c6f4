"""The `junction` command: serve, demo, route explain, policy check, and the tool groups."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        result: int = handler(args)
    except BrokenPipeError:
        # `junction route explain ... | head`: the reader left; that is not an error here.
        # Point stdout at devnull so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="junction", description="Junction: an OpenAI-compatible LLM gateway."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", type=Path, help="policy file (JUNCTION_POLICY_FILE)")
    serve.add_argument("--host", help="bind address (JUNCTION_HOST)")
    serve.add_argument("--port", type=int, help="port (JUNCTION_PORT, default 8080)")
    serve.add_argument("--workers", type=int, help="worker processes (JUNCTION_WORKERS)")
    serve.set_defaults(handler=_serve)

    demo = sub.add_parser("demo", help="run the gateway with emulated local and API backends")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--config", type=Path, default=None,
                      help="policy file (default: the shipped default policy)")
    demo.set_defaults(handler=_demo)

    route = sub.add_parser("route", help="routing tools")
    route_sub = route.add_subparsers(dest="route_command", metavar="COMMAND")
    explain = route_sub.add_parser("explain", help="print the decision for a request, offline")
    explain.add_argument("--config", type=Path, default=None,
                         help="policy file (JUNCTION_POLICY_FILE; default: the shipped policy)")
    explain.add_argument("request", type=Path, help="a chat-completions request body (JSON)")
    explain.add_argument("--header", action="append", default=[], metavar="NAME:VALUE")
    explain.set_defaults(handler=_explain)

    policy = sub.add_parser("policy", help="policy tools")
    policy_sub = policy.add_subparsers(dest="policy_command", metavar="COMMAND")
    check = policy_sub.add_parser("check", help="validate policy files; warn about dead routes")
    check.add_argument("files", type=Path, nargs="+")
    check.set_defaults(handler=_check)
    from router.control.cli import register_policy_commands

    register_policy_commands(policy_sub)

    db = sub.add_parser("db", help="database tools")
    db_sub = db.add_subparsers(dest="db_command", metavar="COMMAND")
    upgrade = db_sub.add_parser(
        "upgrade", help="apply the schema migrations (JUNCTION_DATABASE_URL or JUNCTION_DATA_DIR)"
    )
    upgrade.set_defaults(handler=_db_upgrade)

    # Installed with Junction, so a failed import is a broken install and must say so; each
    # module only declares arguments and imports its command code when a command runs.
    for module in ("router_training.cli", "local_backend.cli"):
        importlib.import_module(module).register_cli(sub)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from router.errors import PolicyError
    from router.server import run_gateway
    from router.settings import Settings
    from router.store.database import StoreConfigError

    overrides: dict[str, Any] = {}
    if args.config is not None:
        overrides["policy_file"] = args.config
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if args.workers is not None:
        overrides["workers"] = args.workers
    try:
        settings = Settings(**overrides)
        run_gateway(settings)
    except (PolicyError, StoreConfigError) as exc:
        print(f"junction: cannot start: {exc}", file=sys.stderr)
        return 2
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    import asyncio

    from router.settings import Settings
    from router.store.database import Database, StoreConfigError, database_url

    settings = Settings()
    secret = settings.database_url.get_secret_value() if settings.database_url else None
    try:
        url = database_url(secret, settings.data_dir)
    except StoreConfigError as exc:
        print(f"junction: {exc}", file=sys.stderr)
        return 2

    async def upgrade() -> str:
        db = Database(url)
        try:
            await db.upgrade()
            return await db.revision()
        finally:
            await db.aclose()

    revision = asyncio.run(upgrade())
    where = "PostgreSQL" if url.startswith("postgresql") else url.removeprefix("sqlite+aiosqlite:///")
    print(f"ok: {where} is at schema revision {revision}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from router.demo import run_demo

    return run_demo(args.host, args.port, args.config)


def _explain(args: argparse.Namespace) -> int:
    from router.errors import JunctionError, PolicyError
    from router.offline import explain_offline

    try:
        raw = args.request.read_bytes()
    except OSError as exc:
        print(f"junction: cannot read {args.request}: {exc.strerror}", file=sys.stderr)
        return 2
    headers = {}
    for item in args.header:
        name, _, value = item.partition(":")
        headers[name.strip().lower()] = value.strip()
    try:
        result = explain_offline(args.config or _configured_policy(), raw, headers)
    except PolicyError as exc:
        print(f"junction: {exc}", file=sys.stderr)
        return 2
    except JunctionError as exc:
        print(json.dumps(exc.body(), indent=2), flush=True)
        return 1
    # Flushed here, so that a reader that went away (`| head`) is met in main's handler.
    print(json.dumps(result, indent=2), flush=True)
    return 0


def _configured_policy() -> Path:
    """The policy `junction serve` would load: JUNCTION_POLICY_FILE, else the shipped one."""
    from router.settings import Settings

    return Settings().policy_file


def _check(args: argparse.Namespace) -> int:
    from router.errors import PolicyError
    from router.policy.check import policy_warnings
    from router.policy.loader import load_policy

    failed = False
    for path in args.files:
        try:
            policy = load_policy(path)
        except PolicyError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed = True
            continue
        warnings = policy_warnings(policy)
        for warning in warnings:
            print(f"warning: {path}: {warning}", file=sys.stderr)
        print(f"ok: {path}: {len(policy.models)} models, {len(policy.routes)} routes, "
              f"{len(warnings)} warning(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
