"""`python -m router_training train|eval|calibrate ...`: the `junction router` group on its own."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from router_training.cli import register_cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m router_training")
    register_cli(parser.add_subparsers(dest="command"))
    # Reuse the group as the top level: `python -m router_training train ...`.
    args = parser.parse_args(["router", *(sys.argv[1:] if argv is None else argv)])
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
