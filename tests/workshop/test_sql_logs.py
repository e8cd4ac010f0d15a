"""The SQL logs the pages show are what the branches' services really print.

A page shows what `MARKETSVC_ECHO=1` makes SQLAlchemy log in ```text blocks.
Each such block has, on the line right above it, a comment that says how to
get that log again:

    <!-- sql-log: reset; ordertotal 2; ordertotal 2 -->
    ```text
    INFO sqlalchemy.engine.Engine BEGIN (implicit)
    ...

Its parts, separated by `;`, are done in order:

- `branch=NAME`: the branch whose tree the log comes from (first, if there;
  else the page's front matter `branch:`, or main's tree for other pages);
- `postgresql`: on a fresh PostgreSQL database (MARKETSVC_TEST_DATABASE_URL)
  rather than a SQLite file;
- `reset`: a fresh database with the sample data (`./run.sh reset`);
- `excerpt`: the block is a part of the log, not all of it;
- `unordered`: the log's lines in any order (concurrent tasks race), so
  compared as a multiset; with `excerpt`, the block's lines are among them;
- `env NAME=VALUE`: an environment variable for the service;
- `sleep SECONDS`, `background COMMAND`: wait; send a run.sh command
  without waiting for its answer (it is stopped after the last command);
- a run.sh command (`ordertotal 2`, `neworder 2 1:1 99:1`): the HTTP request
  run.sh sends for it, to the service started with MARKETSVC_ECHO=1; the
  service's output while the commands run is the log;
- `python NAME`: instead of a service, the async function NAME of
  tests/workshop/sql_log_snippets.py, run on the branch's marketsvc with
  echo on; the code the page shows for it (the ```python block right above
  the log, or the `await ...` of the paragraph above) must be part of it;
- `script`: instead of a service, the page's ```bash block above the log,
  run in the branch's tree;
- `break PATH`: first, in a copy of the branch's tree, the page's last
  ```diff block above the log is applied to the file PATH: its `-` lines
  (with its ` ` lines, in order) must be there, once, and become its `+`
  lines. So a page that says "break it like this, run that" shows what
  the broken code really prints.

The comparison is line by line, after taking out only what differs from run
to run: the time at the start of a log line, the timings in `[generated in
0.00027s]` and `[cached since 0.3253s ago]`, the datetimes among the
parameters, the client's port, and the duration and request id of an
access line. A line `...` in a block stands for any lines, none included. The
access lines count only when the block shows one.

The comment never reaches the site: tools/mkdocs_hooks.py turns it into a
blank line before Markdown reads the page.
"""

import ast
import asyncio
import functools
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from mkdocs.utils.meta import get_data as split_front_matter
from sqlalchemy.engine import make_url

from tests.conftest import _admin
from tools.steps import Source, materialize

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [DOCS / "environment.md", *sorted((DOCS / "steps").glob("*.md"))]
PG_ENV = "MARKETSVC_TEST_DATABASE_URL"
SNIPPETS = Path(__file__).with_name("sql_log_snippets.py")

ANNOTATION = re.compile(r"^[ \t]*<!-- sql-log: (?P<spec>.*?) -->[ \t]*$")
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<info>.*)$")

# --- the blocks --------------------------------------------------------------


@dataclass
class Block:
    page: str
    line: int  # of the annotation, counting from 1
    branch: str | None  # None: main's tree
    setup: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    postgresql: bool = False
    excerpt: bool = False
    unordered: bool = False
    python: str | None = None
    script: str | None = None
    snippet: str | None = None  # the page's ```python block above the log
    edit: tuple[str, str, str] | None = None  # break: (path, old text, new text)
    expected: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def fences(lines: list[str], start: int) -> tuple[int, int, str]:
    """(first line, line after the closing fence, info) of the fence at start."""
    opening = FENCE.match(lines[start])
    close = start + 1
    while lines[close].strip() != opening["fence"]:
        close += 1
    return start, close + 1, opening["info"].strip()


def previous_fence(lines: list[str], before: int, info: str = "") -> tuple[str, str] | None:
    """(info, body) of the last code block above line `before` (with that info, if given)."""
    for start in range(before - 1, -1, -1):
        if FENCE.match(lines[start]):
            for opening in range(start - 1, -1, -1):
                match = FENCE.match(lines[opening])
                if match and lines[start].strip() == match["fence"]:
                    body = textwrap.dedent("\n".join(lines[opening + 1 : start]))
                    if info and match["info"].strip() != info:
                        return previous_fence(lines, opening, info)
                    return match["info"].strip(), body
    return None


def diff_edit(body: str) -> tuple[str, str]:
    """(old, new) text of a ```diff block's lines: `-` old, `+` new, ` ` both."""
    old, new = [], []
    for line in body.splitlines():
        mark, code = line[:1], line[1:] + "\n"
        assert mark in "-+ " and line, f"not a line of a diff: {line!r}"
        if mark in "- ":
            old.append(code)
        if mark in "+ ":
            new.append(code)
    return "".join(old), "".join(new)


def page_code(lines: list[str], before: int) -> str:
    """The code a page shows for a log: the ```python block right above it,
    else the `await ...` spans of the paragraph right above."""
    fence = previous_fence(lines, before)
    paragraph = []
    for line in reversed(lines[:before]):
        if not line.strip() and paragraph:
            break
        paragraph.append(line)
    spans = re.findall(r"`(await [^`]+)`", " ".join(reversed(paragraph)))
    if spans:
        return "\n".join(spans)
    return fence[1] if fence and fence[0] == "python" else ""


def parse_page(page: Path) -> Iterator[Block]:
    markdown = page.read_text(encoding="utf-8")
    page_branch = split_front_matter(markdown)[1].get("branch")
    lines = markdown.splitlines()
    name = page.relative_to(DOCS).as_posix()
    for number, line in enumerate(lines):
        match = ANNOTATION.match(line)
        if not match:
            continue
        block = Block(name, number + 1, page_branch)
        parts = [part.strip() for part in match["spec"].split(";")]
        for part in parts:
            word, _, rest = part.partition(" ")
            if part.startswith("branch="):
                block.branch = part.removeprefix("branch=")
            elif part == "postgresql":
                block.postgresql = True
            elif part == "excerpt":
                block.excerpt = True
            elif part == "unordered":
                block.unordered = True
            elif part == "reset":
                block.setup.append(part)
            elif word == "env":
                key, _, value = rest.partition("=")
                block.env[key] = value
            elif word == "python":
                block.python = rest
                block.snippet = page_code(lines, number)
            elif part == "script":
                fence = previous_fence(lines, number)
                block.script = fence[1] if fence and fence[0] == "bash" else None
            elif word == "break":
                fence = previous_fence(lines, number, "diff")
                assert fence, f"{block.id}: `break` with no ```diff block above the log"
                block.edit = (rest, *diff_edit(fence[1]))
            else:
                block.commands.append(part)
        start, end, info = fences(lines, number + 1)
        assert info == "text", f"{block.id}: the annotation is not right above a ```text block"
        block.expected = textwrap.dedent("\n".join(lines[start + 1 : end - 1])).splitlines()
        yield block


BLOCKS = [block for page in PAGES for block in parse_page(page)]


def test_every_sql_log_block_is_annotated():
    """A ```text block of SQL log without a sql-log comment right above it is untested."""
    unannotated = []
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        number = 0
        while number < len(lines):
            if not FENCE.match(lines[number]):
                number += 1
                continue
            start, end, _ = fences(lines, number)
            body = "\n".join(lines[start + 1 : end - 1])
            if "sqlalchemy.engine" in body and not (
                start > 0 and ANNOTATION.match(lines[start - 1])
            ):
                unannotated.append(f"{page.relative_to(DOCS).as_posix()}:{start + 1}")
            number = end
    assert not unannotated, f"SQL logs without a sql-log comment: {unannotated}"


# --- normalising -------------------------------------------------------------

LEADING_TIME = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d+)? ")
TIMINGS = [
    (re.compile(r"\[generated in [\d.]+s\]"), "[generated in Xs]"),
    (re.compile(r"\[cached since [\d.]+s ago\]"), "[cached since Xs ago]"),
]
DATETIMES = [
    (re.compile(r"'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?'"), "'DATETIME'"),
    (re.compile(r"datetime\.datetime\([\d, ]+\)"), "datetime.datetime(DATETIME)"),
]
# An access line: uvicorn's, or the finished service's, which adds the
# duration and the request id (marketsvc/access_log.py).
ACCESS = re.compile(r"^INFO: +127\.0\.0\.1:\w+ - ")


def normalise(line: str) -> str:
    line = LEADING_TIME.sub("", line).rstrip()
    for pattern, replacement in TIMINGS + DATETIMES:
        line = pattern.sub(replacement, line)
    if ACCESS.match(line):
        line = re.sub(r"^(INFO: +127\.0\.0\.1):\d+ - ", r"\1:PORT - ", line)
        line = re.sub(r" [\d.]+ ms\b", " X ms", line)
        line = re.sub(r"\bid=[0-9a-f]{32}$", "id=REQUEST-ID", line)
    return line


def is_access_line(line: str) -> bool:
    return bool(ACCESS.match(line))


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether actual is expected, a `...` line standing for any lines."""

    @functools.cache
    def match(i: int, j: int) -> bool:
        if i == len(expected):
            return j == len(actual)
        if expected[i].strip() == "...":
            return any(match(i + 1, k) for k in range(j, len(actual) + 1))
        return j < len(actual) and expected[i] == actual[j] and match(i + 1, j + 1)

    return match(0, 0)


# --- running a block ---------------------------------------------------------


@pytest.fixture(scope="session")
def tree(tmp_path_factory):
    """tree(branch) -> a folder holding the branch's files (None: this checkout)."""
    source = Source.from_worktree(ROOT)
    built: dict[str, Path] = {}

    def build(branch: str | None) -> Path:
        if branch is None:
            return ROOT
        if branch not in built:
            dest = tmp_path_factory.mktemp(branch)
            materialize(branch, dest, source)
            # run.sh runs .venv/bin/python: this one.
            (dest / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
            built[branch] = dest
        return built[branch]

    return build


def service_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment without any MARKETSVC_ setting of the caller's, plus these."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MARKETSVC_")}
    return {**env, "PYTHONUNBUFFERED": "1", "MARKETSVC_DATABASE_URL": database_url, **extra}


def run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 60) -> str:
    result = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{argv} failed:\n{result.stdout}"
    return result.stdout


class Output:
    """A process's merged stdout and stderr, line by line, read by a thread."""

    def __init__(self, process: subprocess.Popen):
        self.lines: list[str] = []
        self.changed = time.monotonic()
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))
            self.changed = time.monotonic()

    def wait_for(self, text: str, process: subprocess.Popen, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index, line in enumerate(self.lines):
                if text in line:
                    return index
            assert process.poll() is None, "the service stopped:\n" + "\n".join(self.lines)
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} within {timeout} s:\n" + "\n".join(self.lines))

    def wait_quiet(self, quiet: float = 0.5, timeout: float = 10) -> None:
        """Until nothing has been printed for `quiet` seconds (a log's tail)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() - self.changed < quiet and time.monotonic() < deadline:
            time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_and_call(block: Block, tree: Path, database_url: str) -> list[str]:
    """The service's output while run.sh sends the block's commands."""
    port = str(free_port())
    env = service_env(database_url, MARKETSVC_ECHO="1", MARKETSVC_PORT=port, **block.env)
    service = subprocess.Popen(
        [sys.executable, "-m", "marketsvc", "serve"],
        cwd=tree,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(service)
    background: list[subprocess.Popen] = []
    try:
        started = output.wait_for("Uvicorn running on", service) + 1
        client_env = service_env(database_url, MARKETSVC_PORT=port)
        for command in block.commands:
            if command.startswith("sleep "):
                time.sleep(float(command.removeprefix("sleep ")))
            elif command.startswith("background "):
                argv = ["bash", "run.sh", *shlex.split(command.removeprefix("background "))]
                background.append(
                    subprocess.Popen(
                        argv,
                        cwd=tree,
                        env=client_env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
            else:
                result = subprocess.run(
                    ["bash", "run.sh", *shlex.split(command)],
                    cwd=tree,
                    env=client_env,
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                assert result.returncode in (0, 22), f"./run.sh {command}: {result.stderr}"
        for process in background:
            process.terminate()
            process.wait(timeout=10)
        output.wait_quiet()
    finally:
        for process in background:
            if process.poll() is None:
                process.kill()
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(timeout=15)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
        output.thread.join(timeout=5)
    lines = output.lines[started:]
    for index, line in enumerate(lines):
        if "Shutting down" in line:
            return lines[:index]
    return lines


SNIPPET_RUNNER = """
import asyncio, importlib.util, sys
spec = importlib.util.spec_from_file_location("sql_log_snippets", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
asyncio.run(getattr(module, sys.argv[2])(sys.argv[3]))
"""


def run_snippet(block: Block, tree: Path, database_url: str) -> list[str]:
    """What the snippet function prints, the SQL log included."""
    argv = [sys.executable, "-c", SNIPPET_RUNNER, str(SNIPPETS), block.python, database_url]
    result = subprocess.run(
        argv,
        cwd=tree,
        env={**service_env(database_url), "PYTHONPATH": str(tree)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
    )
    return result.stdout.splitlines()


def run_script(block: Block, tree: Path) -> list[str]:
    """What the page's ```bash block prints, run in the branch's tree."""
    result = subprocess.run(
        ["bash", "-c", block.script],
        cwd=tree,
        env=service_env(f"sqlite+aiosqlite:///{tree / 'marketdb'}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
    )
    return result.stdout.splitlines()


@pytest.fixture
def database(request, tmp_path: Path) -> Iterator[Callable[[Block, Path], str]]:
    """database(block, tree) -> the URL of a fresh database for the block."""
    created: list[str] = []

    def make(block: Block, tree: Path) -> str:
        if block.script is not None:
            return f"sqlite+aiosqlite:///{tree / 'marketdb'}"
        if not block.postgresql:
            return f"sqlite+aiosqlite:///{tmp_path / 'marketdb'}"
        server = os.environ.get(PG_ENV)
        if not server:
            pytest.skip(f"PostgreSQL: set {PG_ENV} to check the logs taken on PostgreSQL")
        name = f"marketsvc_sql_log_{uuid.uuid4().hex[:12]}"
        asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
        created.append(name)
        return make_url(server).set(database=name).render_as_string(hide_password=False)

    yield make
    for name in created:
        asyncio.run(_admin(os.environ[PG_ENV], f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def actual_log(block: Block, tree: Path, database_url: str) -> list[str]:
    env = service_env(database_url)
    for step in block.setup:
        if step == "reset":
            run([sys.executable, "-m", "marketsvc", "init-db", "--reset"], tree, env)
    if block.script is not None:
        return run_script(block, tree)
    if block.python is not None:
        return run_snippet(block, tree, database_url)
    return serve_and_call(block, tree, database_url)


def compare(block: Block, lines: list[str]) -> tuple[list[str], list[str]]:
    """(expected, actual), normalised, the actual lines cut to what the block shows."""
    expected = [normalise(line) for line in block.expected]
    actual = [normalise(line) for line in lines]
    if not any(is_access_line(line) for line in expected):
        actual = [line for line in actual if not is_access_line(line)]
    if block.excerpt and not block.unordered:
        expected = ["...", *expected, "..."]
    return expected, actual


def same_lines(block: Block, expected: list[str], actual: list[str]) -> bool:
    """For `unordered`: the same lines as the log (the log has them, `excerpt`)."""
    assert "..." not in expected, f"{block.id}: an unordered block has no `...` lines"
    if block.excerpt:
        return not Counter(expected) - Counter(actual)
    return Counter(expected) == Counter(actual)


def snippet_source(name: str) -> str:
    """The source of a function of sql_log_snippets.py, read without importing it."""
    text_of_file = SNIPPETS.read_text(encoding="utf-8")
    for node in ast.parse(text_of_file).body:
        if isinstance(node, ast.AsyncFunctionDef) and node.name == name:
            return ast.get_source_segment(text_of_file, node)
    raise AssertionError(f"sql_log_snippets.py has no async function {name}")


def broken_copy(tree: Path, edit: tuple[str, str, str], dest: Path) -> Path:
    """A copy of the tree with the page's edit made."""
    path, old, new = edit
    shutil.copytree(tree, dest, symlinks=True)
    text_of_file = (dest / path).read_text(encoding="utf-8")
    assert text_of_file.count(old) == 1, f"{path} no longer has, once:\n{old}"
    (dest / path).write_text(text_of_file.replace(old, new), encoding="utf-8")
    return dest


@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_the_sql_log_is_what_the_branch_prints(block: Block, tree, database, tmp_path):
    where = tree(block.branch)
    if block.edit is not None:
        where = broken_copy(where, block.edit, tmp_path / "broken")
    if block.python is not None:
        assert block.snippet, f"{block.id}: no ```python block above the log"
        shown = [line.strip() for line in block.snippet.splitlines()]
        source = [line.strip() for line in snippet_source(block.python).splitlines()]
        assert any(source[i : i + len(shown)] == shown for i in range(len(source))), (
            f"{block.id}: the page's code is not part of {block.python}()"
        )
    expected, actual = compare(block, actual_log(block, where, database(block, where)))
    if not (same_lines(block, expected, actual) if block.unordered else matches(expected, actual)):
        pytest.fail(
            f"{block.id} on {block.branch or 'main'}: the page shows\n"
            + "\n".join(expected)
            + "\n\nbut the log is\n"
            + "\n".join(actual),
            pytrace=False,
        )
