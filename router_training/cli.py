"""`junction router ...`: the argument parsers; the commands themselves load on use.

junction router train --data d.jsonl --out routers/r [--models a,b] [--pair STRONG,WEAK]
junction router eval --data d.jsonl --router routers/r --strong A --weak B [--json] [--plot p.png]
junction router eval --data d.jsonl --router routers/r --models a,b,c [--json] [--plot p.png]
junction router calibrate --data d.jsonl --router routers/r --strong-share 0.3

Every `junction` invocation registers these parsers, so this module imports no training code:
`commands.py` (numpy, the fitting code, the datasets) is imported only when a command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register_cli"]

# TrainOptions' defaults, repeated so that parsing arguments imports nothing heavy;
# tests/unit/router_training/test_cli.py checks that they agree.
DEFAULT_L2 = 1e-3
DEFAULT_MIN_DF = 2


def register_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `router` command group (train, eval, calibrate) to a `junction` parser."""
    group = subparsers.add_parser("router", help="train, evaluate and calibrate a learned router")
    commands = group.add_subparsers(dest="router_command", metavar="COMMAND")

    train = commands.add_parser("train", help="fit per-model win-probability predictors")
    train.add_argument("--data", type=Path, help="JSONL dataset")
    train.add_argument(
        "--from-records", type=Path, metavar="FILE",
        help="learn from request records with content and feedback (`junction records export`); "
        "with --data, from both",
    )
    train.add_argument(
        "--policy", type=Path,
        help="with --from-records: leave out routes whose router block says training: exclude",
    )
    train.add_argument(
        "--exclude-route", action="append", metavar="ROUTE",
        help="with --from-records: leave out this route's records (repeatable)",
    )
    train.add_argument("--out", type=Path, required=True, help="router directory to write")
    train.add_argument("--models", type=_names, help="comma-separated (default: all scored)")
    train.add_argument(
        "--pair",
        type=_names,
        help="STRONG,WEAK: also fit a pair head on the peer-group gain (default: the two "
        "trained models when the data also grades other models)",
    )
    train.add_argument("--l2", type=float, default=DEFAULT_L2)
    train.add_argument("--min-df", type=int, default=DEFAULT_MIN_DF)
    train.add_argument(
        "--score-scale", type=float, default=1.0, metavar="MAX",
        help="the scores' scale is [0, MAX] (e.g. 10 for a 0-10 judge); default 1",
    )
    train.set_defaults(handler=run_train)

    evaluate = commands.add_parser("eval", help="APGR/CPT for a pair, or AIQ for many models")
    evaluate.add_argument("--data", type=Path, required=True, help="JSONL dataset to score")
    evaluate.add_argument("--router", type=Path, required=True, help="router directory")
    evaluate.add_argument("--strong", help="strong model (pair mode)")
    evaluate.add_argument("--weak", help="weak model (pair mode)")
    evaluate.add_argument("--models", type=_names, help="models to route among (multi mode)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--plot", type=Path, help="write a PNG of the curve")
    evaluate.add_argument(
        "--score-scale", type=float, default=1.0, metavar="MAX",
        help="the scores' scale is [0, MAX] (e.g. 10 for a 0-10 judge); default 1",
    )
    evaluate.set_defaults(handler=run_eval)

    calibrate = commands.add_parser("calibrate", help="store a threshold in the router directory")
    calibrate.add_argument("--data", type=Path, required=True, help="calibration JSONL")
    calibrate.add_argument("--router", type=Path, required=True, help="router directory")
    calibrate.add_argument("--strong", help="strong model (default: the router's pair)")
    calibrate.add_argument("--weak", help="weak model (default: the router's pair)")
    target = calibrate.add_mutually_exclusive_group(required=True)
    target.add_argument("--strong-share", type=float, help="share of prompts for the strong model")
    target.add_argument("--target-pgr", type=float, help="PGR to reach with the fewest calls")
    calibrate.add_argument("--json", action="store_true")
    calibrate.add_argument(
        "--score-scale", type=float, default=1.0, metavar="MAX",
        help="the scores' scale is [0, MAX] (e.g. 10 for a 0-10 judge); default 1",
    )
    calibrate.set_defaults(handler=run_calibrate)

    compare = commands.add_parser(
        "compare", help="a candidate router next to the active one, on recorded traffic"
    )
    compare.add_argument("--candidate", type=Path, required=True, help="new router directory")
    compare.add_argument("--active", type=Path, required=True, help="router directory in use")
    compare.add_argument("--records", type=Path, required=True, help="records export (JSONL)")
    compare.add_argument("--strong", help="strong model (default: the routers' pair)")
    compare.add_argument("--weak", help="weak model (default: the routers' pair)")
    compare.add_argument("--policy", type=Path, help="honour its routes' training: exclude")
    compare.add_argument("--json", action="store_true", help="print one JSON object")
    compare.set_defaults(handler=run_compare)

    group.set_defaults(handler=lambda _args: _usage(group))
    _register_records(subparsers)


def _register_records(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = subparsers.add_parser("records", help="request records for training a router")
    commands = group.add_subparsers(dest="records_command", metavar="COMMAND")
    export = commands.add_parser(
        "export", help="write records with content and feedback from a gateway's Redis to JSONL"
    )
    export.add_argument("--redis-url", required=True, help="the gateway's JUNCTION_REDIS__URL")
    export.add_argument("--prefix", default="junction", help="the stats key prefix")
    export.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    export.add_argument(
        "--policy", type=Path, help="leave out routes whose router block says training: exclude"
    )
    export.set_defaults(handler=run_export)
    group.set_defaults(handler=lambda _args: _usage(group))


def run_compare(args: argparse.Namespace) -> int:
    """`junction router compare`."""
    from router_training.commands import compare_command

    return compare_command(args)


def run_export(args: argparse.Namespace) -> int:
    """`junction records export`."""
    from router_training.commands import export_command

    return export_command(args)


def run_train(args: argparse.Namespace) -> int:
    """`junction router train`."""
    from router_training.commands import train_command

    return train_command(args)


def run_eval(args: argparse.Namespace) -> int:
    """`junction router eval`."""
    from router_training.commands import eval_command

    return eval_command(args)


def run_calibrate(args: argparse.Namespace) -> int:
    """`junction router calibrate`."""
    from router_training.commands import calibrate_command

    return calibrate_command(args)


def _names(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated model names")
    return names


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2
