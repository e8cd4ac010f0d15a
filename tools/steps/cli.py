"""The command line: python -m tools.steps build|check|hint|solution|verify."""

from __future__ import annotations

import argparse
import sys

from . import __doc__ as package_doc
from .build import cmd_build
from .check import cmd_check
from .gitplumbing import StepsError
from .hints import cmd_hint, cmd_solution
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
    check.add_argument("-v", "--verbose", action="store_true", help="show pytest's tracebacks")
    check.add_argument("--watch", action="store_true", help="run again on every save")

    hint = commands.add_parser("hint", help="one more level of hint for an exercise")
    hint.add_argument("exercise", nargs="?", help="default: the first one not done")
    hint.add_argument("--root", default=str(ROOT), help=argparse.SUPPRESS)

    solution = commands.add_parser("solution", help="show an exercise's solution, after asking")
    solution.add_argument("exercise", nargs="?")
    solution.add_argument("--yes", action="store_true", help="do not ask")
    solution.add_argument("--root", default=str(ROOT), help=argparse.SUPPRESS)

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
        if args.command == "hint":
            return cmd_hint(args)
        if args.command == "solution":
            return cmd_solution(args)
        return cmd_verify(args)
    except StepsError as error:
        print(f"steps: {error}", file=sys.stderr)
        return 1
