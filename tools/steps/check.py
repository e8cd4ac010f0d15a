"""check: run a branch's tests and say, exercise by exercise, what is done."""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .course import BRANCH_STEP_FILE


@dataclass
class Outcomes:
    """What one pytest run did, test by test."""

    tests: dict[str, dict] = field(default_factory=dict)  # nodeid -> {outcome, exercise}
    errors: list[str] = field(default_factory=list)  # modules that failed to collect
    exit_code: int = 0

    def to_json(self) -> str:
        return json.dumps({"tests": self.tests, "errors": self.errors, "exit_code": self.exit_code})

    @classmethod
    def from_json(cls, text: str) -> Outcomes:
        return cls(**json.loads(text))


class OutcomePlugin:
    """A pytest plugin recording each test's outcome and exercise marker."""

    def __init__(self, outcomes: Outcomes):
        self.outcomes = outcomes

    def pytest_collection_modifyitems(self, items):
        for item in items:
            marker = item.get_closest_marker("exercise")
            name = marker.args[0] if marker and marker.args else None
            self.outcomes.tests[item.nodeid] = {"outcome": "not run", "exercise": name}

    def pytest_collectreport(self, report):
        if report.failed:
            self.outcomes.errors.append(report.nodeid or "(collection)")

    def pytest_runtest_logreport(self, report):
        test = self.outcomes.tests.setdefault(
            report.nodeid, {"outcome": "not run", "exercise": None}
        )
        if report.failed:
            test["outcome"] = "failed"  # in setup, call or teardown
        elif test["outcome"] != "failed" and (report.when == "call" or report.skipped):
            test["outcome"] = "skipped" if report.skipped else "passed"


def run_tests(root: Path, pytest_args: list[str]) -> Outcomes:
    """Run a branch's tests in this process, from its root."""
    import pytest  # only check and verify need it

    outcomes = Outcomes()
    os.chdir(root)
    sys.path.insert(0, str(root))  # so the tests import the branch's marketsvc
    outcomes.exit_code = int(pytest.main(pytest_args, plugins=[OutcomePlugin(outcomes)]))
    return outcomes


def read_branch_step(root: Path) -> dict | None:
    path = root / BRANCH_STEP_FILE
    return tomllib.loads(path.read_text()) if path.exists() else None


# --------------------------------------------------------------------------
# check: the attendee's view
# --------------------------------------------------------------------------

NOT_ON_A_STEP = """\
This is main: the finished service, with no exercises to check.
The workshop's steps are branches. Make them in this clone, then check out the first:

    ./run.sh steps
    git checkout step-1-getting-started

Then read the step's page in docs/, do its exercises and run ./run.sh check again."""


def cmd_check(args: argparse.Namespace, pytest_args: list[str]) -> int:
    root = Path(args.root).resolve()
    info = read_branch_step(root)
    if info is None:
        print(NOT_ON_A_STEP)
        return 2
    if not args.json:
        print(f"Running the tests of {info['branch']}...\n", flush=True)
    outcomes = run_tests(root, pytest_args)
    if args.json:
        Path(args.json).write_text(outcomes.to_json())
        return 0
    return report(info, outcomes)


def say(label: str, text: str) -> None:
    """Print text after label, wrapped to fit a terminal, aligned after it."""
    print(textwrap.fill(text, 88, initial_indent=label, subsequent_indent=" " * len(label)))


def report(info: dict, outcomes: Outcomes) -> int:
    """Print exercise by exercise what is done; 0 when everything passes."""
    variant = info["variant"]
    label = f"Step {info['step']}" + ("" if variant == "single" else f" ({variant})")
    print(f"\n{label}: {info['title']}")
    print(f"Read along: {info['page']}\n")

    exercises = info.get("exercise", [])
    names = {exercise["name"] for exercise in exercises}
    left = 0
    for exercise in exercises:
        results = [
            t["outcome"] for t in outcomes.tests.values() if t["exercise"] == exercise["name"]
        ]
        done = results and all(result == "passed" for result in results)
        state = "done" if done else "to do" if results else "not run"
        say(f"  {state:<8} ", f"{exercise['name']}: {exercise['summary']}")
        if not done:
            left += 1
            say("           hint: ", exercise["hint"])

    others = [t["outcome"] for t in outcomes.tests.values() if t["exercise"] not in names]
    broken = others.count("failed") + len(outcomes.errors)
    counts = ", ".join(
        f"{others.count(o)} {o}" for o in ("passed", "failed", "skipped") if others.count(o)
    )
    which = "other tests" if exercises else "tests"
    print(f"  {'broken' if broken else 'ok':<8} {which}: {counts or 'none ran'}")
    for error in outcomes.errors:
        print(f"           could not load {error}: see the error above")

    print()
    if left == 0 and not broken and outcomes.exit_code in (0, 5):
        print(
            "Everything passes."
            + (
                f" Next: git checkout {info['next']}"
                if info.get("next")
                else " That was the last step!"
            )
        )
        return 0
    if exercises:
        print(f"{len(exercises) - left} of {len(exercises)} exercises done.", end=" ")
    if broken:
        print(
            "Some tests that passed at the start of the step fail now; the output above says why.",
            end=" ",
        )
    print("Run ./run.sh check again after your next change.")
    if info.get("solution"):
        print(f"Stuck? Compare with the solution: git diff HEAD {info['solution']}")
    return 1
