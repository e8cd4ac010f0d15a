"""Tests of the help an attendee gets on a step branch: ./run.sh check's
report, hint, solution, check --watch, and run.sh offering only what the
branch has. They run on real built branches (the `built` clone, or trees
built from this checkout) and on the made-up course of test_steps.py.
"""

import asyncio
import json
import os
import queue
import re
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest

from tools import steps
from tools.steps.check import failure_message, say

from .conftest import clone, commit_as_main, git, run_steps
from .test_steps import NO_PLUGINS, fake_course


def steps_command(repo: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """python -m tools.steps ARGS in repo, with no terminal on stdin."""
    return subprocess.run(
        [sys.executable, "-m", "tools.steps", *args],
        cwd=repo,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        # A terminal wide enough for check's 92 columns, the pages' reports.
        # Without it the width would be whatever COLUMNS this process has:
        # GNU readline, once loaded, exports its own guess (80).
        env={**os.environ, "COLUMNS": "100", **(env or {})},
    )


def in_a_terminal(repo: Path, args: list[str], typed: str) -> tuple[int, str]:
    """Run python -m tools.steps ARGS on a pseudo-terminal, typing `typed`."""
    leader, follower = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.steps", *args],
        cwd=repo,
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    os.write(leader, typed.encode())
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the process ended and closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return process.wait(timeout=120), output.decode().replace("\r\n", "\n")


# --------------------------------------------------------------------------
# hint and solution, on step 2 as ./run.sh steps built it
# --------------------------------------------------------------------------

STEP_2 = "step-2-sqlalchemy-base"


@pytest.mark.timeout(900)
def test_hint_levels_advance_persist_and_leave_the_tree_clean(built: Path, tmp_path: Path):
    repo = clone(built, tmp_path / "clone", "--branch", STEP_2)
    step = next(s for s in steps.load_steps(built) if STEP_2 in s.branches)
    first, second = step.exercises

    one = steps_command(repo, "hint")  # no name: the first exercise not done
    assert one.returncode == 0, one.stderr
    assert "Hint 1 of 3 (the idea)" in one.stdout and first.name in one.stdout
    assert "2 more levels" in one.stdout
    unwrapped = " ".join(one.stdout.split())
    assert first.hints[0] in unwrapped and first.hints[1] not in unwrapped

    two = " ".join(steps_command(repo, "hint").stdout.split())  # a new process: it remembered
    assert first.hints[0] in two and first.hints[1] in two and first.hints[2] not in two
    assert "1 more level:" in two

    other = steps_command(repo, "hint", second.name).stdout
    assert "Hint 1 of 3" in other and "Hint 2 of 3" not in other

    for _ in range(2):  # the third level, then the third again
        three = steps_command(repo, "hint", first.name).stdout
        assert first.hints[2] in " ".join(three.split())
        assert f"./run.sh solution {first.name}" in three
        assert "Hint 4" not in three

    unknown = steps_command(repo, "hint", "no-such-exercise")
    assert unknown.returncode == 2 and first.name in unknown.stdout

    # The remembered levels are no uncommitted work: git shows nothing, and
    # ./run.sh steps (build) does not refuse.
    assert git(repo, "status", "--porcelain") == ""
    rebuilt = run_steps(repo, "build")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr


def test_help_text_fits_the_terminal_and_never_splits_code(monkeypatch, capsys):
    code = "after_id).options(selectinload(Order.items).selectinload(OrderItem.item))."
    text = f"statement = select(Order).where(Order.id > {code}"
    counts = []
    for columns, width in [("60", 59), ("200", 92)]:
        monkeypatch.setenv("COLUMNS", columns)
        say("Hint 3 of 3 (nearly the code): ", text, indent="    ")
        lines = capsys.readouterr().out.splitlines()
        assert " ".join(" ".join(lines).split()) == "Hint 3 of 3 (nearly the code): " + text
        assert any(line.strip() == code for line in lines)  # whole, though too long
        assert all(len(line) <= width for line in lines if code not in line)
        assert all(line.startswith("    ") for line in lines[1:])
        counts.append(len(lines))
    assert counts[1] < counts[0]


@pytest.mark.timeout(900)
def test_solution_asks_first_and_solves_that_exercise_alone(built: Path, tmp_path: Path):
    repo = clone(built, tmp_path / "clone", "--branch", STEP_2)
    name, other = "bound-parameters", "begin-once"

    no_terminal = steps_command(repo, "solution", name)
    assert no_terminal.returncode == 2
    assert "--yes" in no_terminal.stdout and "+++" not in no_terminal.stdout

    status, said_no = in_a_terminal(repo, ["solution", name], "n\n")
    assert status == 1 and "[y/N]" in said_no and "+++" not in said_no
    status, said_nothing = in_a_terminal(repo, ["solution", name], "\n")
    assert status == 1 and "+++" not in said_nothing
    status, said_yes = in_a_terminal(repo, ["solution", name], "y\n")
    assert status == 0 and "+++ b/marketsvc/db_accessor.py" in said_yes

    shown = steps_command(repo, "solution", name, "--yes")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("--- a/marketsvc/db_accessor.py")
    applied = subprocess.run(
        ["git", "apply"], cwd=repo, input=shown.stdout, capture_output=True, text=True
    )
    assert applied.returncode == 0, applied.stderr

    # With that diff the exercise is done and the other one is not.
    checked = steps_command(repo, "check")
    assert checked.returncode == 1
    assert f"done      {name}" in checked.stdout
    assert f"not done  {other}" in checked.stdout
    assert "step 2: 1 of 2 done; course: 1 of" in checked.stdout
    # hint without a name goes to the first exercise that check saw not done.
    assert f"{other}:" in steps_command(repo, "hint").stdout.splitlines()[0]


@pytest.mark.timeout(900)
def test_hint_and_solution_on_a_step_without_exercises(built: Path, tmp_path: Path):
    repo = clone(built, tmp_path / "clone", "--branch", "step-1-getting-started")
    for command in ("hint", "solution"):
        result = steps_command(repo, command)
        assert result.returncode == 2
        assert "has no exercises" in result.stdout


# --------------------------------------------------------------------------
# check's report on a fresh -base
# --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_check_on_the_last_base_fits_a_screen(built: Path, tmp_path: Path):
    """Step 10 has the most exercises: its report is the longest."""
    branch = "step-10-production-base"
    info = tomllib.loads(steps.build_tree(branch, built)[".step.toml"].decode())
    result = steps_command(clone(built, tmp_path / "clone", "--branch", branch), "check")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) <= 40, result.stdout
    assert "Traceback" not in result.stdout and "def test_" not in result.stdout
    unwrapped = " ".join(result.stdout.split())
    for exercise in info["exercise"]:
        assert f"not done {exercise['name']}:" in unwrapped
        assert exercise["hints"][0] not in unwrapped
    assert f"step 10: 0 of {len(info['exercise'])} done" in result.stdout


# --------------------------------------------------------------------------
# The made-up course: what check recognises, and --watch
# --------------------------------------------------------------------------

# Each test makes, for real, one mistake that check gives advice about.
MISTAKES = """\
import asyncio

import pytest
from sqlalchemy import ForeignKey, create_engine, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, joinedload, mapped_column, relationship
from sqlalchemy.pool import QueuePool


class Base(DeclarativeBase):
    pass


class Parent(Base):
    __tablename__ = "parent"
    id: Mapped[int] = mapped_column(primary_key=True)
    children: Mapped[list["Child"]] = relationship()


class Child(Base):
    __tablename__ = "child"
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("parent.id"))


def database(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Parent(id=1, children=[Child(id=1), Child(id=2)]))
        session.commit()
    return engine


@pytest.mark.exercise("extra")
def test_read_after_the_session_closed(tmp_path):
    with Session(database(tmp_path)) as session:
        parent = session.get(Parent, 1)
    assert len(parent.children) == 2


@pytest.mark.exercise("extra")
def test_joined_collection_without_unique(tmp_path):
    with Session(database(tmp_path)) as session:
        session.scalars(select(Parent).options(joinedload(Parent.children))).all()


@pytest.mark.exercise("extra")
def test_lazy_load_under_asyncio(tmp_path):
    database(tmp_path)

    async def scenario():
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'db'}")
        try:
            async with AsyncSession(engine) as session:
                parent = await session.get(Parent, 1)
                return len(parent.children)
        finally:
            await engine.dispose()

    assert asyncio.run(scenario()) == 2


@pytest.mark.exercise("extra")
def test_a_connection_kept(tmp_path):
    engine = create_engine(
        f"sqlite:///{tmp_path / 'db'}", poolclass=QueuePool, pool_size=1, max_overflow=0,
        pool_timeout=0.1,
    )
    kept = engine.connect()
    with engine.connect():
        pass
    kept.close()


@pytest.mark.exercise("extra")
def test_a_coroutine_not_awaited():
    async def total():
        return 3

    value = total()
    is_number = isinstance(value, int)
    del value  # dropped without an await: Python warns here
    assert is_number, "total() gave a coroutine, not a number"
"""


def made_up_branch(tmp_path: Path, branch: str, extra_tests: str | None = None) -> Path:
    main = fake_course()
    if extra_tests is not None:
        main.put("steps/02-extra/tests/test_mistakes.py", extra_tests.encode())
    repo = commit_as_main(main, tmp_path / "repo")
    assert run_steps(repo, "build").returncode == 0
    return clone(repo, tmp_path / "clone", "--branch", branch)


@pytest.mark.timeout(600)
def test_check_speaks_for_the_one_error_inside_an_exception_group():
    """A streamed body runs in a task group (anyio's, under Starlette): a stub's
    NotImplementedError reaches the test wrapped in groups of one."""

    async def stub():
        raise NotImplementedError("exercise sse: write order_events")

    async def run():
        async with asyncio.TaskGroup() as group:
            group.create_task(stub())

    with pytest.raises(BaseExceptionGroup) as caught:
        asyncio.run(run())
    said = failure_message(ExceptionGroup("unhandled errors in a TaskGroup", [caught.value]))
    assert said == "not written yet (the stub still raises NotImplementedError)"
    two = ExceptionGroup("two", [ValueError("a"), KeyError("b")])
    assert failure_message(two) == "ExceptionGroup: two (2 sub-exceptions)"


def test_check_names_common_mistakes_and_keeps_tracebacks_for_v(tmp_path: Path):
    repo = made_up_branch(tmp_path, "step-2-extra-base", MISTAKES)
    quiet = steps_command(repo, "check", env=NO_PLUGINS)
    assert quiet.returncode == 1
    assert "Traceback" not in quiet.stdout and "def test_" not in quiet.stdout
    assert "6 of 6 tests fail" in quiet.stdout
    unwrapped = " ".join(quiet.stdout.split())
    for advice in (
        "(DetachedInstanceError)",
        "call .unique() on the result",
        "(MissingGreenlet)",
        "was not given back to the pool",
        "called but never awaited",
    ):
        assert advice in unwrapped, advice
    assert unwrapped.count("Advice:") == 5  # each once

    verbose = steps_command(repo, "check", "-v", env=NO_PLUGINS)
    assert "tests/test_mistakes.py:" in verbose.stdout  # pytest's tracebacks


def test_check_says_where_code_the_tests_import_is_broken(tmp_path: Path):
    repo = made_up_branch(tmp_path, "step-2-extra-base")
    (repo / "marketsvc" / "extra.py").write_text("def extra(:\n    return 'extra'\n")
    result = steps_command(repo, "check", env=NO_PLUGINS)
    assert result.returncode == 1
    unwrapped = " ".join(result.stdout.split())
    assert "could not load tests/test_extra.py: SyntaxError" in unwrapped
    assert "(marketsvc/extra.py, line 1)" in unwrapped
    assert "not done extra: write extra() its tests did not run" in unwrapped
    assert "Traceback" not in result.stdout


@pytest.mark.timeout(600)
def test_check_watch_runs_again_when_a_file_is_saved(tmp_path: Path):
    repo = made_up_branch(tmp_path, "step-2-extra-base")
    watcher = subprocess.Popen(
        [sys.executable, "-m", "tools.steps", "check", "--watch"],
        cwd=repo,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **NO_PLUGINS},
    )
    lines: queue.Queue = queue.Queue()

    def forward():
        for line in watcher.stdout:
            lines.put(line)

    threading.Thread(target=forward, daemon=True).start()

    def read_until(text: str) -> list[str]:
        seen = []
        while text not in (line := lines.get(timeout=300)):
            seen.append(line)
        return [*seen, line]

    try:
        first = read_until("Watching your .py files")
        assert any("not done  extra" in line for line in first)
        (repo / "marketsvc" / "extra.py").write_text("def extra():\n    return 'extra'\n")
        second = read_until("Watching your .py files")
        assert any("done      extra" in line for line in second)
        assert any("step 2: 1 of 1 done; course: 1 of 2" in line for line in second)
    finally:
        watcher.terminate()
        watcher.wait(timeout=30)


# --------------------------------------------------------------------------
# run.sh offers what the branch's service has, and no more
# --------------------------------------------------------------------------

# Ask the branch's own service what it has: its CLI's subcommands (argparse
# lists them as {serve,init-db,...} in --help) and its app's routes (OpenAPI's paths).
PROBE = """\
import contextlib, io, json
from marketsvc.__main__ import main
from marketsvc.server import app
help = io.StringIO()
with contextlib.redirect_stdout(help), contextlib.suppress(SystemExit):
    main(["--help"])
print(json.dumps({"help": help.getvalue(), "routes": list(app.openapi()["paths"])}))
"""

ROUTE_OF = {
    "customers": "/api/customers",
    "custorders": "/api/orders/{customer_id}",
    "ordertotal": "/api/order_total/{order_id}",
    "orderstotal": "/api/orders_total",
    "ordersbet": "/api/orders_between_dates/{before}/{after}",
    "neworder": "/api/add_new_order",
    "stats": "/api/stats",
    "items": "/api/items",
    "events": "/api/events/orders",
    "query": "/api/query",
}


def run_sh(tree: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "run.sh", *args], cwd=tree, capture_output=True, text=True, timeout=60
    )


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "branch",
    [
        "step-1-getting-started",
        "step-6-asyncio-sqlalchemy-base",
        "step-8-streaming-base",
        "step-10-production-base",
    ],
)
def test_run_sh_lists_and_accepts_only_what_the_branch_has(
    built: Path, tmp_path: Path, branch: str
):
    tree = tmp_path / "tree"
    steps.write_tree_to(steps.build_tree(branch, built), tree)
    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MARKETSVC_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}"},
    )
    assert probe.returncode == 0, probe.stderr
    service = json.loads(probe.stdout.splitlines()[-1])
    commands = re.search(r"\{([\w,-]+)\}", service["help"])[1].split(",")

    listing = run_sh(tree).stdout
    listed = {line.split()[0] for line in listing.splitlines() if line.startswith("  ")}
    has = {
        "seed": "seed" in commands,
        "--pg": "create-db" in commands,
        **{command: path in service["routes"] for command, path in ROUTE_OF.items()},
    }
    for command, there in has.items():
        shown = ("--pg" in listing) if command == "--pg" else (command in listed)
        assert shown == there, f"{branch}: {command} listed {shown}, the service has it: {there}"
        if not there:
            args = ["run", "--pg"] if command == "--pg" else [command]
            refused = run_sh(tree, *args)
            assert refused.returncode == 2
            assert f"does not exist on {branch}" in refused.stderr
    assert "bench" not in listed  # the benchmarks stay on main
    assert "--reload" in listing  # every branch serves marketsvc.server:app with uvicorn


# --------------------------------------------------------------------------
# The check reports the pages show are what check prints
# --------------------------------------------------------------------------

CHECK_SUMMARY = re.compile(r"^step \d+: \d+ of \d+ done; course: \d+ of \d+$", re.M)
PROGRESS = re.compile(r"^[.FEsxX]+ +\[ *\d+%\]$")


def check_reports_on_pages() -> list[tuple[str, str, str]]:
    """(page, branch, report) for each ```text block a step page shows as check's output."""
    found = []
    for page in sorted((steps.ROOT / "docs" / "steps").glob("*.md")):
        text = page.read_text()
        branch = re.search(r"^branch: (\S+)$", text, re.M)
        for block in re.findall(r"^```text\n(.*?)^```$", text, re.M | re.S):
            if CHECK_SUMMARY.search(block):
                base = branch.group(1).removesuffix("-solved") + "-base"
                found.append((page.name, base, block))
    return found


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize(("page", "branch", "report"), check_reports_on_pages())
def test_a_check_report_on_a_page_is_what_check_prints(built, tmp_path, page, branch, report):
    """Line for line, but for the rows of dots (their order is pytest's business).

    As an attendee runs it: without a PostgreSQL server for the tests.
    """
    repo = clone(built, tmp_path / "clone", "--branch", branch)
    result = steps_command(repo, "check", env={"MARKETSVC_TEST_DATABASE_URL": ""})

    def lines(output: str) -> list[str]:
        return [line.rstrip() for line in output.splitlines() if not PROGRESS.match(line)]

    assert lines(result.stdout) == lines(report), f"{page}: ./run.sh check printed\n{result.stdout}"
