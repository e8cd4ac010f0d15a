"""check: run a branch's tests and say, exercise by exercise, what is done."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from . import state
from .course import BRANCH_STEP_FILE


@dataclass
class Outcomes:
    """What one pytest run did, test by test."""

    # nodeid -> {outcome, exercise, and for a failure: message, advice}
    tests: dict[str, dict] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # modules that failed to collect
    error_messages: dict[str, str] = field(default_factory=dict)  # module -> why
    advice: list[str] = field(default_factory=list)  # ADVICE keys seen outside any failure
    exit_code: int = 0

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> Outcomes:
        return cls(**json.loads(text))


# Mistakes the course's topics make easy, recognised by what they raise or
# warn about: key -> (pattern, advice).
ADVICE = {
    "detached": (
        r"DetachedInstanceError",
        "An object was read after its session closed, and what it needed was not"
        " loaded (DetachedInstanceError): load it while the session is open (a loader"
        " option such as selectinload()), or keep the session open while you use it.",
    ),
    "greenlet": (
        r"MissingGreenlet|greenlet_spawn has not been called",
        "Under asyncio an attribute that was not loaded cannot be fetched behind"
        " your back (MissingGreenlet): load it up front with selectinload(), keep"
        " objects readable after commit (expire_on_commit=False), or await"
        " session.refresh(obj).",
    ),
    "unique": (
        r"The unique\(\) method must be invoked",
        "joinedload() of a collection repeats each parent once per child row: call"
        " .unique() on the result before .scalars()/.all(), or use selectinload().",
    ),
    "await": (
        # Not aiosqlite's own Connection.cursor(): a MissingGreenlet leaves
        # that one behind, and the MissingGreenlet advice says what to do.
        r"coroutine '(?!Connection\.cursor')[^']+' was never awaited",
        "A coroutine was called but never awaited (RuntimeWarning): an async def"
        " function does nothing until you put `await` before the call.",
    ),
    "pool": (
        r"non-checked-in connection|QueuePool limit of size \d+ overflow|connection timed out",
        "A connection was not given back to the pool: close it in a `finally:` (or"
        " use `async with`), so that it goes back even when an error or a"
        " cancellation ends the work early.",
    ),
}


def advice_for(text: str) -> list[str]:
    return [key for key, (pattern, _) in ADVICE.items() if re.search(pattern, text)]


def exception_texts(error: BaseException) -> list[str]:
    """The error, its causes and contexts, and an exception group's members."""
    texts, seen, queue = [], set(), [error]
    while queue:
        current = queue.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        texts.append(f"{type(current).__name__}: {current}")
        if isinstance(current, BaseExceptionGroup):
            queue += current.exceptions
        queue += [current.__cause__, current.__context__]
    return texts


def failure_message(error: BaseException) -> str:
    """One line on what went wrong, from the exception a failing test raised.

    An exception group (a TaskGroup's, or anyio's around a streamed body)
    with a single member speaks for that member.
    """
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    name = type(error).__name__
    if isinstance(error, NotImplementedError) and text.startswith("exercise "):
        return "not written yet (the stub still raises NotImplementedError)"
    if isinstance(error, AssertionError):
        return text or "an assert failed"
    return f"{name}: {text}" if text else name


def collection_error(text: str) -> str:
    """Where and what, from the report of a test file that could not be
    imported: its last line (SyntaxError: ...) and the last file and line
    the traceback names, in this repository when it can."""
    lines = [line.lstrip("E").strip() for line in text.splitlines() if line.strip()]
    what = lines[-1] if lines else "an error"
    places = re.findall(r'File "([^"]+)", line (\d+)', text)
    places = places or re.findall(r"^(\S+\.py):(\d+)", text, re.MULTILINE)
    if not places:
        return what
    path, line = places[-1]
    if Path(path).resolve().is_relative_to(Path.cwd()):
        path = str(Path(path).resolve().relative_to(Path.cwd()))
    return f"{what} ({path}, line {line})"


def test_title(nodeid: str) -> str:
    """tests/test_api.py::test_orders_total[x] -> 'orders total'."""
    name = nodeid.split("::")[-1].split("[")[0]
    return name.removeprefix("test_").replace("_", " ")


class OutcomePlugin:
    """A pytest plugin recording each test's outcome and exercise marker, and
    for each failure what it raised."""

    def __init__(self, outcomes: Outcomes):
        self.outcomes = outcomes

    def pytest_collection_modifyitems(self, items):
        for item in items:
            marker = item.get_closest_marker("exercise")
            name = marker.args[0] if marker and marker.args else None
            self.outcomes.tests[item.nodeid] = {"outcome": "not run", "exercise": name}

    def pytest_collectreport(self, report):
        if report.failed:
            nodeid = report.nodeid or "(collection)"
            self.outcomes.errors.append(nodeid)
            self.outcomes.error_messages[nodeid] = collection_error(str(report.longrepr))

    def pytest_exception_interact(self, node, call, report):
        test = self.outcomes.tests.get(node.nodeid)
        if test is None or "message" in test:
            return  # a collector, or not the test's first failure
        error = call.excinfo.value
        test["message"] = failure_message(error)
        test["advice"] = advice_for("\n".join(exception_texts(error)))

    def pytest_runtest_logreport(self, report):
        test = self.outcomes.tests.setdefault(
            report.nodeid, {"outcome": "not run", "exercise": None}
        )
        if report.failed:
            test["outcome"] = "failed"  # in setup, call or teardown
            captured = "\n".join(content for _, content in report.sections)
            test["advice"] = sorted(set(test.get("advice", [])) | set(advice_for(captured)))
        elif test["outcome"] != "failed" and (report.when == "call" or report.skipped):
            test["outcome"] = "skipped" if report.skipped else "passed"

    def pytest_warning_recorded(self, warning_message, when, nodeid, location):
        keys = advice_for(str(warning_message.message))
        test = self.outcomes.tests.get(nodeid)
        if test is not None and test["outcome"] == "failed":
            test["advice"] = sorted(set(test.get("advice", [])) | set(keys))
        else:
            self.outcomes.advice += [key for key in keys if key not in self.outcomes.advice]


def run_tests(root: Path, pytest_args: list[str]) -> Outcomes:
    """Run a branch's tests in this process, from its root."""
    import pytest  # only check and verify need it

    outcomes = Outcomes()
    os.chdir(root)
    sys.path.insert(0, str(root))  # so the tests import the branch's marketsvc
    # Warnings raised outside any test (garbage collected at the very end)
    # belong to no exercise: kept out of the report rather than printed.
    with warnings.catch_warnings(record=True):
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


# Without -v: pytest prints one line of dots, no tracebacks and no summary;
# the report below says what failed, test by test.
QUIET = ["-qq", "--tb=no", "--no-summary", "--no-header"]


def cmd_check(args: argparse.Namespace, pytest_args: list[str]) -> int:
    root = Path(args.root).resolve()
    info = read_branch_step(root)
    if info is None:
        print(NOT_ON_A_STEP)
        return 2
    if args.json:  # for verify: outcomes only, pytest's output as asked
        outcomes = run_tests(root, pytest_args)
        Path(args.json).write_text(outcomes.to_json())
        return 0
    if args.watch:
        return watch(root, ["-v"] * args.verbose + pytest_args)
    print(f"Running the tests of {info['branch']}...", flush=True)
    outcomes = run_tests(root, (["--tb=short"] if args.verbose else QUIET) + pytest_args)
    return report(root, info, outcomes)


def say(label: str, text: str, indent: str | None = None) -> None:
    """Print text after label, wrapped to fit the terminal, aligned after it.

    Words are never split, so code in a hint or a message stays whole
    (a name longer than a line runs past its end) and can be copied.
    """
    columns = shutil.get_terminal_size((0, 0)).columns  # 0: no terminal
    width = max(40, min(92, columns - 1)) if columns else 92
    indent = " " * len(label) if indent is None else indent
    wrapped = textwrap.fill(
        text,
        width,
        initial_indent=label,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    print(wrapped)


def why_not_done(tests: list[tuple[str, dict]]) -> str:
    """One sentence on an exercise that is not done, from its first failure."""
    failed = [(nodeid, test) for nodeid, test in tests if test["outcome"] == "failed"]
    if not failed:
        return "its tests did not run (see the errors below)"
    nodeid, test = failed[0]
    count = f"{len(failed)} of {len(tests)} tests fail"
    message = test.get("message", "failed")
    if len(message) > 160:
        message = message[:157] + "..."
    return f"{count}; {test_title(nodeid)}: {message}"


def report(root: Path, info: dict, outcomes: Outcomes) -> int:
    """Print exercise by exercise what is done; 0 when everything passes."""
    variant = info["variant"]
    label = f"Step {info['step']}" + ("" if variant == "single" else f" ({variant})")
    print(f"\n{label}: {info['title']}")
    print(f"Read along: {info['page']}\n")

    exercises = info.get("exercise", [])
    names = {exercise["name"] for exercise in exercises}
    done, advice = [], list(outcomes.advice)
    for exercise in exercises:
        tests = [(n, t) for n, t in outcomes.tests.items() if t["exercise"] == exercise["name"]]
        if tests and all(test["outcome"] == "passed" for _, test in tests):
            done.append(exercise["name"])
            say(f"  {'done':<9} ", f"{exercise['name']}: {exercise['summary']}")
            continue
        say(f"  {'not done':<9} ", f"{exercise['name']}: {exercise['summary']}")
        say(" " * 12, why_not_done(tests))
        for _, test in tests:
            advice += [key for key in test.get("advice", []) if key not in advice]

    others = [(n, t) for n, t in outcomes.tests.items() if t["exercise"] not in names]
    results = [test["outcome"] for _, test in others]
    broken = results.count("failed") + len(outcomes.errors)
    counts = ", ".join(
        f"{results.count(o)} {o}" for o in ("passed", "failed", "skipped") if results.count(o)
    )
    which = "other tests" if exercises else "tests"
    say(f"  {'broken' if broken else 'ok':<9} ", f"{which}: {counts or 'none ran'}")
    for _, test in others:
        if test["outcome"] == "failed":
            advice += [key for key in test.get("advice", []) if key not in advice]
    for nodeid, test in [(n, t) for n, t in others if t["outcome"] == "failed"][:3]:
        say(" " * 12, f"{test_title(nodeid)}: {test.get('message', 'failed')}"[:200])
    # A mistake in a module the tests import breaks every test file: name a few.
    for error in outcomes.errors[:3]:
        say(" " * 12, f"could not load {error}: {outcomes.error_messages.get(error, '')}")
    if len(outcomes.errors) > 3:
        say(" " * 12, f"and {len(outcomes.errors) - 3} more test files, likely for the same reason")
    for key in advice:
        print()
        say("Advice: ", ADVICE[key][1])

    remember(root, info, done)
    print()
    print(progress(info, len(done)))
    if len(done) == len(exercises) and not broken and outcomes.exit_code in (0, 5):
        following = info.get("next")
        print("Everything passes." + (f" Next: git checkout {following}" if following else ""))
        if not following:
            print("That was the last step!")
        return 0
    if outcomes.errors:
        print("Some test files could not be loaded (above): fix that first.")
    elif broken:
        print("Some tests that passed at the start of the step fail now (above).")
    if len(done) < len(exercises):
        print("Stuck? ./run.sh hint shows a hint, one level at a time.")
    print("./run.sh check -v shows the tracebacks; ./run.sh check --watch re-runs on every save.")
    return 1


def progress(info: dict, done_here: int) -> str:
    """The progress line, such as `step 6: 1 of 2 done; course: 8 of 21`.
    The exercises of the steps before this one count as done: you are past
    them (docs/reference/configuration.md says so)."""
    mine = len(info.get("exercise", []))
    line = f"step {info['step']}: " + (f"{done_here} of {mine} done" if mine else "no exercises")
    if "exercises_in_course" in info:
        before, total = info["exercises_before"], info["exercises_in_course"]
        line += f"; course: {before + done_here} of {total}"
    return line


def remember(root: Path, info: dict, done: list[str]) -> None:
    """Record what this check saw done: ./run.sh hint starts from the first
    exercise that is not."""
    data = state.load(root)
    state.set_last_done(data, info["branch"], done)
    state.save(root, data)


WATCHING = "\nWatching your .py files; every save runs the check again (Ctrl-C stops)."


def watch(root: Path, check_args: list[str]) -> int:
    """Run check now and again after every change to a .py file under root.
    Each run is a process of its own, so it imports your edited code afresh."""
    from watchfiles import PythonFilter
    from watchfiles import watch as changes

    command = [sys.executable, "-m", "tools.steps", "check", "--root", str(root), *check_args]
    started = False
    try:
        # The watcher yields an empty set every rust_timeout ms: the first one
        # says it is watching, so no save after the first run goes unseen.
        for changed in changes(
            root, watch_filter=PythonFilter(), yield_on_timeout=True, rust_timeout=200
        ):
            if started and not changed:
                continue
            if started and sys.stdout.isatty():
                print("\033[2J\033[H", end="", flush=True)  # a clear screen for each run
            started = True
            subprocess.run(command, cwd=root)
            print(WATCHING, flush=True)
    except KeyboardInterrupt:
        pass
    return 0
