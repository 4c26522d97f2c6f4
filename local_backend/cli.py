"""`junction local ...`: list launch profiles and start vLLM from one.

`register_cli` adds the `local` command to the gateway's argument parser; every leaf parser sets
`handler`, a callable taking the parsed namespace and returning an exit code. `main` runs the
same commands alone: `python -m local_backend.cli profiles`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from local_backend.launcher import launch
from local_backend.profiles import (
    LaunchProfile,
    ProfileError,
    check_profile,
    load_profiles,
    parse_overrides,
    with_overrides,
)

Handler = Callable[[argparse.Namespace], int]


def register_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `local launch` and `local profiles` to a parent parser's subcommands."""
    local = subparsers.add_parser("local", help="run the local vLLM backend")
    commands = local.add_subparsers(dest="local_command", required=True)

    launch_parser = commands.add_parser("launch", help="start vLLM from a launch profile")
    launch_parser.add_argument("--profile", required=True, help="profile name (see `profiles`)")
    launch_parser.add_argument(
        "--dry-run", action="store_true", help="check the profile and print the command only"
    )
    launch_parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a profile field, e.g. --set port=9000 --set thinking_default=false",
    )
    launch_parser.add_argument(
        "--ready-timeout", type=float, default=1800.0,
        help="seconds to wait for /health (large checkpoints load slowly)",
    )
    launch_parser.set_defaults(handler=_launch)

    list_parser = commands.add_parser(
        "profiles", help="list launch profiles and their memory needs"
    )
    list_parser.set_defaults(handler=_list_profiles)


def _launch(args: argparse.Namespace) -> int:
    try:
        profiles = load_profiles()
        if args.profile not in profiles:
            print(
                f"error: unknown profile '{args.profile}'; choose one of {sorted(profiles)}",
                file=sys.stderr,
            )
            return 2
        profile = with_overrides(profiles[args.profile], parse_overrides(args.overrides))
        return launch(profile, dry_run=args.dry_run, ready_timeout_s=args.ready_timeout)
    except ProfileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def describe(profile: LaunchProfile) -> str:
    """One table row: name, model, hardware, memory need per device, price."""
    hardware = (
        "cpu" if profile.device == "cpu" else f"{profile.gpu_count}x {profile.gpu_type}"
    )
    parallel = f"tp{profile.tensor_parallel_size}"
    if profile.data_parallel_size > 1:
        parallel += f" dp{profile.data_parallel_size}"
    if profile.enable_expert_parallel:
        parallel += " ep"
    try:
        needs = check_profile(profile)
        memory = f"{needs.total_gb:6.1f} GB" + (
            f" of {needs.available_gb:.0f}" if needs.available_gb is not None else " host"
        )
    except ProfileError as exc:
        memory = f"INVALID ({len(exc.problems)} problem(s))"
    price = f"${profile.cost_per_gpu_hour * profile.gpu_count:.2f}/h"
    return (
        f"{profile.name:<30} {profile.model:<30} {hardware:<9} {parallel:<10} "
        f"{memory:<20} {price}"
    )


def _list_profiles(args: argparse.Namespace) -> int:
    out = sys.stdout
    try:
        profiles = load_profiles()
    except ProfileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{'PROFILE':<30} {'MODEL':<30} {'HARDWARE':<9} {'PARALLEL':<10} "
        f"{'MEMORY/DEVICE':<20} PRICE",
        file=out,
    )
    for profile in profiles.values():
        print(describe(profile), file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run `local` subcommands without the gateway's CLI."""
    parser = argparse.ArgumentParser(prog="junction")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["local", *(sys.argv[1:] if argv is None else argv)])
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
