"""The command line: python -m tools.steps build|check|verify."""

from __future__ import annotations

import argparse
import sys

from . import __doc__ as package_doc
from .build import cmd_build
from .check import cmd_check
from .gitplumbing import StepsError
from .trees import ROOT
from .verify import cmd_verify


def parser() -> argparse.ArgumentParser:
    summary = package_doc.split("\n\n")[0]
    cli = argparse.ArgumentParser(prog="python -m tools.steps", description=summary)
    commands = cli.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="create or refresh the step branches from main")
    build.add_argument(
        "--force", action="store_true", help="also with uncommitted changes or foreign commits"
    )
    build.add_argument("--push", metavar="REMOTE", help="then push every step branch to REMOTE")
    build.add_argument(
        "--from",
        dest="from_",
        metavar="REF",
        help="build from REF (default: main, else origin/main)",
    )

    check = commands.add_parser("check", help="on a step branch: which exercises are done")
    check.add_argument("--root", default=str(ROOT), help=argparse.SUPPRESS)
    check.add_argument("--json", metavar="FILE", help=argparse.SUPPRESS)  # for verify

    verify = commands.add_parser("verify", help="CI: run every branch's tests and judge them")
    verify.add_argument("--jobs", type=int, default=2, help="branches tested at once (default 2)")
    verify.add_argument(
        "--from", dest="from_", metavar="REF", help="build from REF (default: this checkout)"
    )
    return cli


def main(argv: list[str] | None = None) -> int:
    args, extra = parser().parse_known_args(argv)
    if extra and args.command != "check":
        parser().error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if args.command == "build":
            return cmd_build(args)
        if args.command == "check":
            return cmd_check(args, extra)
        return cmd_verify(args)
    except StepsError as error:
        print(f"steps: {error}", file=sys.stderr)
        return 1
