"""The course site builds, and what its pages say is true of the code.

Every page under docs/ is checked on its own, so a new page needs no change
here:

- a fenced code block whose title is a file path (```python
  title="marketsvc/db_accessor.py") shows that file's code only through
  include lines (`--8<-- stream_query`, tools/steps/includes.py), which the
  site build fills in from the file, so the code cannot drift; this checks
  that every include names a file, a definition and lines that are there,
  and that no such block spells code out (a solution would be readable in
  the raw Markdown); a line holding only `...` (or `# ...`, `-- ...`,
  `// ...`) may stand between includes for lines left out;
- every `./run.sh COMMAND` names a command of run.sh;
- every `/api/...` path is a route of the service;
- every link, and every #anchor, leads somewhere.

Pages under docs/steps/ describe a step branch: their front matter names it
(`branch: step-6-asyncio-sqlalchemy-solved`), and their files, run.sh and
routes come from that branch's tree as tools/steps builds it. One block
may name another branch with the attribute form of a fence:
```{ .python title="marketsvc/db_accessor.py" data-branch="step-6-...-base" }.
Every other page describes main's working tree.
"""

import functools
import html
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from urllib.parse import unquote, urlsplit

import pytest
from mkdocs.utils.meta import get_data as split_front_matter

from tools.steps import StepsError, includes, offers

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))


def page_id(page: Path) -> str:
    """A page's path inside its docs folder, as pages and messages name it."""
    parts = page.parts
    docs = len(parts) - 1 - parts[::-1].index("docs")
    return "/".join(parts[docs + 1 :])


each_page = pytest.mark.parametrize("page", PAGES, ids=page_id)


# --- pages -------------------------------------------------------------------

STEP_PAGE = re.compile(r"^(\d{2})-.+\.md$")
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
ATTRIBUTE = re.compile(r'\b(?P<key>[\w-]+)="(?P<value>[^"]*)"')


def step_number(page: Path) -> int | None:
    """The step a page under docs/steps/ is about; None for other pages."""
    match = STEP_PAGE.match(page.name)
    if page.parent.name == "steps" and match:
        return int(match.group(1))
    return None


def front_matter(page: Path) -> dict:
    return split_front_matter(page.read_text(encoding="utf-8"))[1]


def page_branch(page: Path) -> str | None:
    """The branch a page describes: its front matter's on step pages, else None (main)."""
    if step_number(page) is None:
        return None
    branch = front_matter(page).get("branch")
    if not branch:
        pytest.fail(f"{page_id(page)}: a step page needs front matter naming its branch")
    return str(branch)


@dataclass(frozen=True)
class CodeBlock:
    page: Path
    line: int  # of the opening fence, counting from 1
    info: str  # what follows the opening fence: language and attributes
    lines: tuple[str, ...]

    @property
    def attributes(self) -> dict[str, str]:
        return {m["key"]: m["value"] for m in ATTRIBUTE.finditer(self.info)}

    @property
    def file(self) -> str | None:
        """The file the block shows: a title that looks like a path, not a caption."""
        title = self.attributes.get("title", "")
        if title and not re.search(r"\s", title) and ("/" in title or "." in title):
            return title
        return None

    @property
    def where(self) -> str:
        return f"{page_id(self.page)}:{self.line}"

    def quoted(self) -> str:
        return "\n".join(f"    | {line}" for line in self.lines)


def code_blocks(text: str, page: Path) -> Iterator[CodeBlock]:
    """Every fenced block, including those indented inside admonitions, lists or tabs."""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        body = []
        end = index + 1
        while end < len(lines):
            stripped = lines[end].strip()
            if stripped.startswith(fence) and set(stripped) == {fence[0]}:
                break
            line = lines[end]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            end += 1
        yield CodeBlock(page, index + 1, opening["info"].strip(), tuple(body))
        index = end + 1


def prose_and_code(page: Path) -> str:
    """A page's text without its front matter."""
    return split_front_matter(page.read_text(encoding="utf-8"))[0]


# --- where a page's code lives ----------------------------------------------

RUN_SH_CASE = re.compile(r'^case "\$command" in$(?P<body>.*?)^esac$', re.M | re.S)
CASE_LABEL = re.compile(r"^(?P<indent>[ \t]*)(?P<labels>[\w-]+(?:[ \t]*\|[ \t]*[\w-]+)*)\)", re.M)
ROUTE_DECORATOR = re.compile(
    r"\.(?:get|post|put|patch|delete|api_route|websocket)\(\s*[\"'](?P<path>/[^\"']*)[\"']"
)


def run_sh_commands(script: str) -> set[str]:
    """The commands run.sh accepts: the labels of its `case "$command" in`."""
    case = RUN_SH_CASE.search(script)
    if case is None:
        return set()
    labels = list(CASE_LABEL.finditer(case["body"]))
    if not labels:
        return set()
    # Only the outer case's labels: those indented like the first one.
    outer = min(len(label["indent"]) for label in labels)
    return {
        name.strip()
        for label in labels
        if len(label["indent"]) == outer
        for name in label["labels"].split("|")
    }


def routes_in_source(files: Mapping[str, bytes]) -> set[str]:
    """Route paths declared with FastAPI decorators in marketsvc/*.py."""
    return {
        match["path"]
        for path, data in files.items()
        if path.startswith("marketsvc/") and path.endswith(".py")
        for match in ROUTE_DECORATOR.finditer(data.decode("utf-8", errors="replace"))
    }


@dataclass(frozen=True)
class Source:
    """The files a page describes: main's working tree, or one branch's tree."""

    name: str
    files: Mapping[str, bytes] | None = None  # None: main, read from disk

    def read(self, path: str) -> str | None:
        if self.files is None:
            on_disk = ROOT / path
            return on_disk.read_text(encoding="utf-8") if on_disk.is_file() else None
        data = self.files.get(path)
        return None if data is None else data.decode("utf-8")

    def run_sh_commands(self) -> set[str]:
        """What run.sh accepts here: on a branch, less what its .step.toml
        does not offer (run.sh refuses those) and bench, which is main's."""
        commands = run_sh_commands(self.read("run.sh") or "")
        step = self.read(".step.toml")
        if step is not None:
            gated = set(offers.NEEDS) | {"hint", "solution"}
            commands -= gated - set(tomllib.loads(step).get("offers", []))
        if self.files is not None and not any(path.startswith("bench/") for path in self.files):
            commands.discard("bench")
        return commands

    def routes(self) -> set[str]:
        if self.files is None:
            return main_routes()
        return routes_in_source(self.files)


def route_paths(routes: list, prefix: str = "") -> Iterator[str]:
    """The paths of an app's routes, including those of included routers."""
    for route in routes:
        # Newer FastAPI keeps an included router as one entry that wraps it.
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            yield from route_paths(included.routes, prefix + getattr(context, "prefix", ""))
        elif hasattr(route, "path"):
            yield prefix + route.path


@functools.cache
def main_routes() -> set[str]:
    from marketsvc.server import create_app

    paths = set(route_paths(create_app().routes))
    assert "/api/customers" in paths, f"could not read the app's routes; found only {paths}"
    return paths


def step_builder() -> ModuleType:
    """tools/steps, the package that builds the step branches."""
    from tools import steps

    return steps


@functools.cache
def source_for(branch: str | None) -> Source:
    """main's working tree for None, else the tree tools/steps builds for the branch."""
    if branch is None:
        return Source("main")
    return Source(branch, step_builder().build_tree(branch))


SourceLookup = Callable[[str | None], Source]


# --- 1. code blocks include their files -----------------------------------------

ELISIONS = {"...", "# ...", "-- ...", "// ..."}


def is_include(line: str) -> bool:
    return includes.DIRECTIVE.match(line) is not None


def drift_problems(page: Path, sources: SourceLookup = source_for) -> list[str]:
    """What inclusion cannot guarantee: blocks that spell a file's code out,
    and includes that name a file, a definition or lines that are not there."""
    problems = []
    text = page.read_text(encoding="utf-8")
    for block in code_blocks(text, page):
        literal = [
            line
            for line in block.lines
            if line.strip() and not is_include(line) and line.strip() not in ELISIONS
        ]
        if block.file is not None and literal:
            problems.append(
                f"{block.where}: the block titled {block.file} spells code out; show the"
                f" file's code with include lines (--8<-- NAME), so it cannot drift and"
                f" solutions stay out of the Markdown. First literal line:\n"
                f"    {literal[0].strip()!r}"
            )

    def read(branch: str | None, path: str) -> str | None:
        return sources(branch).read(path)

    try:
        includes.expand(text, page_branch(page), read, page_id(page))
    except StepsError as error:
        problems.append(str(error))
    return problems


@each_page
def test_titled_code_blocks_include_their_files(page: Path):
    problems = drift_problems(page)
    assert not problems, "\n\n".join(problems)


# --- 2. commands and routes a page mentions exist ------------------------------

RUN_SH_MENTION = re.compile(r"\./run\.sh[ \t]+(?P<command>[a-z][\w-]*)")
ROUTE_MENTION = re.compile(r"/api(?:/[\w{}.-]+)+")


def route_pattern(route: str) -> re.Pattern:
    """A regex for a route path: each {parameter} stands for one path segment."""
    parts = re.split(r"(\{[^}]+\})", route)
    return re.compile(
        "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
    )


def route_mentions(text: str) -> set[str]:
    return {match.group().rstrip(".") for match in ROUTE_MENTION.finditer(text)}


def unknown_routes(mentions: set[str], routes: set[str]) -> list[str]:
    patterns = [route_pattern(route) for route in routes]
    return sorted(m for m in mentions if not any(p.fullmatch(m) for p in patterns))


def mention_problems(page: Path, sources: SourceLookup = source_for) -> list[str]:
    text = prose_and_code(page)
    commands = {match["command"] for match in RUN_SH_MENTION.finditer(text)}
    routes = route_mentions(text)
    if not commands and not routes:
        return []
    source = sources(page_branch(page))
    problems = []
    missing_commands = sorted(commands - source.run_sh_commands())
    if missing_commands:
        problems.append(
            f"{page_id(page)} mentions ./run.sh {', '.join(missing_commands)}, "
            f"but run.sh on {source.name} has no such command"
        )
    missing_routes = unknown_routes(routes, source.routes()) if routes else []
    if missing_routes:
        problems.append(
            f"{page_id(page)} mentions {', '.join(missing_routes)}, "
            f"but the service on {source.name} has no such route"
        )
    return problems


@each_page
def test_mentioned_commands_and_routes_exist(page: Path):
    problems = mention_problems(page)
    assert not problems, "\n".join(problems)


# --- 3. the tests a page names exist ----------------------------------------------

TEST_MENTION = re.compile(r"`(?:[\w/]+\.py::)?(?P<name>test_\w+)`")
TEST_DEFINITION = re.compile(r"^\s*(?:async )?def (test_\w+)\(", re.MULTILINE)


def defined_tests(source: Source) -> set[str]:
    """Test functions in a tree's tests/ and claims/ (main's: read from disk)."""
    if source.files is None:
        texts = [
            path.read_text(encoding="utf-8")
            for folder in ("tests", "claims")
            for path in (ROOT / folder).rglob("test_*.py")
        ]
    else:
        texts = [
            data.decode("utf-8")
            for path, data in source.files.items()
            if path.startswith(("tests/", "claims/")) and path.endswith(".py")
        ]
    return {name for text in texts for name in TEST_DEFINITION.findall(text)}


@each_page
def test_the_tests_a_page_names_exist(page: Path):
    # A page backs a claim by naming a test; a renamed or deleted test must
    # not leave the claim pointing at nothing. A step page may also name a
    # test of the finished service (main).
    named = {match["name"] for match in TEST_MENTION.finditer(prose_and_code(page))}
    if not named:
        return
    known = defined_tests(source_for(None))
    if page_branch(page) is not None:
        known |= defined_tests(source_for(page_branch(page)))
    missing = sorted(named - known)
    assert not missing, f"{page_id(page)} names tests that do not exist: {', '.join(missing)}"


@pytest.mark.parametrize(
    "page", [page for page in PAGES if step_number(page) is not None], ids=page_id
)
def test_step_pages_name_a_branch_of_their_step(page: Path):
    branch = page_branch(page)
    assert branch.startswith(f"step-{step_number(page)}-"), (
        f"{page_id(page)} names {branch}, a branch of another step"
    )
    known = step_builder().branch_names()
    assert branch in known, f"{page_id(page)} names {branch}; the step branches are {known}"


# --- 3. the site builds, and its links lead somewhere ---------------------------


@dataclass(frozen=True)
class SiteBuild:
    directory: Path
    returncode: int
    output: str

    def require(self) -> Path:
        if self.returncode != 0:
            pytest.fail("the site did not build; see test_site_builds_in_strict_mode")
        return self.directory


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> SiteBuild:
    directory = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(directory)]
    result = subprocess.run(
        [*command, "--config-file", str(ROOT / "mkdocs.yml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    return SiteBuild(directory, result.returncode, result.stdout + result.stderr)


def test_site_builds_in_strict_mode(site: SiteBuild):
    assert site.returncode == 0, f"mkdocs build --strict failed:\n{site.output}"


def built_page(site_dir: Path, page: Path) -> Path:
    """Where mkdocs writes a page (directory URLs: a/b.md -> a/b/index.html)."""
    relative = page.relative_to(DOCS).with_suffix("")
    if relative.name == "index":
        return site_dir / relative.parent / "index.html"
    return site_dir / relative / "index.html"


class Outline(HTMLParser):
    """What the checks need from an HTML page: title, h1 text, ids and links."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.h1 = ""
        self.ids: set[str] = set()
        self.links: list[str] = []
        self._open: list[str] = []  # the title, h1 and heading-link elements we are in
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for key in ("id", "name"):
            if attributes.get(key):
                self.ids.add(attributes[key])
        if tag == "a" and attributes.get("href") is not None:
            self.links.append(attributes["href"])
        if tag in ("title", "h1"):
            self._open.append(tag)
        elif tag == "a" and "headerlink" in (attributes.get("class") or "").split():
            self._open.append("headerlink")  # the ¶ after a heading is not its text

    def handle_endtag(self, tag):
        closing = "headerlink" if tag == "a" else tag
        if self._open and self._open[-1] == closing:
            self._open.pop()

    def handle_data(self, data):
        if "headerlink" in self._open:
            return
        if "title" in self._open:
            self.title += data
        elif "h1" in self._open:
            self.h1 += data


@functools.cache
def outline(path: Path) -> Outline:
    return Outline(path.read_text(encoding="utf-8"))


def broken_links(site_dir: Path, html_file: Path) -> list[str]:
    problems = []
    for href in outline(html_file).links:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or href.startswith("mailto:"):
            continue  # outside the site
        target = (html_file.parent / unquote(parts.path)).resolve() if parts.path else html_file
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file() or not target.is_relative_to(site_dir.resolve()):
            problems.append(f"{href}: no such page")
        elif parts.fragment and unquote(parts.fragment) not in outline(target).ids:
            problems.append(f"{href}: the page has no anchor #{parts.fragment}")
    return problems


@each_page
def test_links_and_anchors_resolve(site: SiteBuild, page: Path):
    site_dir = site.require()
    html_file = built_page(site_dir, page)
    assert html_file.is_file(), f"{page_id(page)} was not built to {html_file.name}"
    problems = broken_links(site_dir, html_file)
    assert not problems, f"{page_id(page)} has broken links:\n" + "\n".join(problems)


# --- 4. a person can read the step 6 page ---------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def served_site(site: SiteBuild) -> Iterator[str]:
    """The built site over HTTP on a free port of 127.0.0.1; yields its base URL."""
    site_dir = site.require()
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site_dir))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Run headless Chromium once, with a fresh profile and no background traffic."""
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1280,1600",
    ]
    return subprocess.run(
        [CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt install chromium)")
def test_step_6_page_renders_in_a_browser(site: SiteBuild, served_site: str, tmp_path: Path):
    page = next(DOCS.glob("steps/06-*.md"))
    built = outline(built_page(site.require(), page))
    url = served_site + page.relative_to(DOCS).with_suffix("").as_posix() + "/"

    screenshot = tmp_path / "step-6.png"
    shot = chromium(tmp_path, f"--screenshot={screenshot}", url)
    assert screenshot.is_file(), f"no screenshot of {url}:\n{shot.stderr}"
    png = screenshot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n"), "the screenshot is not a PNG"
    # A blank page compresses to a few kilobytes; text, code and navigation do not.
    assert len(png) > 20_000, f"the screenshot is only {len(png)} bytes: is the page blank?"

    dump = chromium(tmp_path, "--dump-dom", url)
    assert dump.returncode == 0, f"chromium --dump-dom failed:\n{dump.stderr}"
    rendered = Outline(dump.stdout)
    heading = next(line[2:] for line in prose_and_code(page).splitlines() if line.startswith("# "))
    assert rendered.title.strip() == built.title.strip(), (
        f"the browser shows the title {rendered.title!r}, the site has {built.title!r}"
    )
    assert html.unescape(heading).strip() == rendered.h1.strip(), (
        f"the browser shows the heading {rendered.h1!r}, the page has {heading!r}"
    )


# --- the checks themselves, on made-up pages and trees ---------------------------

FILE = """\
import asyncio


async def execute_query(statement, params=None):
    async with engine.connect() as conn:
        result = await conn.execute(statement, params)
        return result.all()


class Order:
    # one line of an order
    @property
    def total(self):
        return sum(line.total for line in self.lines)
"""


@pytest.mark.parametrize(
    ("spec", "part"),
    [
        ("*", FILE.rstrip("\n")),
        ("execute_query", FILE.split("\n\n\n")[1]),
        # a method, with its decorator and the comment right above it, dedented
        (
            "Order.total",
            "# one line of an order\n@property\ndef total(self):\n"
            "    return sum(line.total for line in self.lines)",
        ),
        # from the first line containing one text to the first containing the other
        (
            "execute_query :: async with :: result = await",
            "async with engine.connect() as conn:\n"
            "    result = await conn.execute(statement, params)",
        ),
        ("execute_query :: return", "return result.all()"),
        ("* :: import :: import", "import asyncio"),
    ],
)
def test_an_include_selects_a_definition_or_lines_of_it(spec: str, part: str):
    assert includes.select(FILE, spec, "page.md:3") == part


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("stream_query", "page.md:3: the file defines no 'stream_query'"),
        ("execute_query :: conn.stream", "no line contains the `from` text 'conn.stream'"),
        # `to` is looked for from the `from` line on, inside the definition
        ("execute_query :: return :: async with", "no line contains the `to` text 'async with'"),
        ("execute query", "is not NAME [:: FROM [:: TO]]"),
        ("execute_query :: a :: b :: c", "is not NAME [:: FROM [:: TO]]"),
    ],
)
def test_an_include_of_what_is_not_there_is_an_error(spec: str, message: str):
    with pytest.raises(StepsError, match=re.escape(message)):
        includes.select(FILE, spec, "page.md:3")


def test_expand_fills_includes_in_at_their_indentation():
    page = (
        "---\nbranch: step-6-x-solved\n---\n\n"
        '??? success "Solution"\n'
        '    ```python title="marketsvc/db_accessor.py"\n'
        "        --8<-- execute_query :: result = await\n"
        "    ```\n"
        '```{ .python title="marketsvc/db_accessor.py" data-branch="step-6-x-base" }\n'
        "--8<-- Order.total :: def total\n"
        "```\n"
    )
    asked = []

    def read(branch, path):
        asked.append((branch, path))
        return FILE

    expanded = includes.expand(page, "step-6-x-solved", read, "steps/06-x.md")
    # the directive's indentation: four for the admonition, four in the block
    assert "\n        result = await conn.execute(statement, params)\n" in expanded
    assert "\n        return result.all()\n    ```\n" in expanded
    assert "def total(self):\n    return sum(" in expanded
    assert "--8<--" not in expanded
    assert asked == [
        ("step-6-x-solved", "marketsvc/db_accessor.py"),
        ("step-6-x-base", "marketsvc/db_accessor.py"),
    ]


def test_an_include_outside_a_titled_block_is_an_error():
    with pytest.raises(StepsError, match=r"x\.md:2: an include stands in a code block"):
        includes.expand("```python\n--8<-- execute_query\n```\n", None, lambda *_: FILE, "x.md")


SERVER = b"""\
@router.get("/api/things/{thing_id}")
async def thing(thing_id: int): ...

@app.api_route("/api/totals", methods=["GET", "POST"])
async def totals(): ...
"""

RUN_SH = """\
usage() { echo; }
case "$command" in
  run) serve ;;
  custorders) call GET "/api/orders/${1:-1}" ;;
  help | -h | --help) usage ;;
  *) exit 2 ;;
esac
"""


def write_page(folder: Path, name: str, text: str) -> Path:
    page = folder / name
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(text, encoding="utf-8")
    return page


def fake_sources(trees: dict[str, dict[str, bytes]]) -> SourceLookup:
    def lookup(branch: str | None) -> Source:
        assert branch in trees, f"looked up {branch}, which the page does not name"
        return Source(str(branch), trees[branch])

    return lookup


def test_step_pages_are_checked_against_their_branch(tmp_path: Path):
    page = write_page(
        tmp_path / "docs",
        "steps/06-fake.md",
        "---\nbranch: step-6-fake-solved\n---\n\n# Step 6\n\n"
        "Run `./run.sh custorders 2` and call /api/things/7 or /api/totals.\n\n"
        '```python title="marketsvc/server.py"\n--8<-- totals\n```\n\n'
        '```{ .python title="marketsvc/server.py" data-branch="step-6-fake-base" }\n'
        "--8<-- thing\n```\n",
    )
    trees = {
        "step-6-fake-solved": {"marketsvc/server.py": SERVER, "run.sh": RUN_SH.encode()},
        "step-6-fake-base": {"marketsvc/server.py": SERVER},
    }
    assert drift_problems(page, fake_sources(trees)) == []
    assert mention_problems(page, fake_sources(trees)) == []

    trees["step-6-fake-base"] = {"marketsvc/server.py": b"# nothing yet\n"}
    [problem] = drift_problems(page, fake_sources(trees))
    assert problem == (
        "steps/06-fake.md:14 (marketsvc/server.py on step-6-fake-base): the file defines no 'thing'"
    )


def test_unknown_commands_routes_and_files_are_reported(tmp_path: Path):
    page = write_page(
        tmp_path / "docs",
        "steps/02-fake.md",
        "---\nbranch: step-2-fake-solved\n---\n\n"
        "Try `./run.sh serve` and /api/stats, then /api/things/1.\n\n"
        '```python title="marketsvc/missing.py"\n--8<-- main\n```\n\n'
        '```text title="Terminal output"\nnot a file, so not checked\n```\n',
    )
    trees = {"step-2-fake-solved": {"marketsvc/server.py": SERVER, "run.sh": RUN_SH.encode()}}
    assert mention_problems(page, fake_sources(trees)) == [
        "steps/02-fake.md mentions ./run.sh serve, but run.sh on step-2-fake-solved"
        " has no such command",
        "steps/02-fake.md mentions /api/stats, but the service on step-2-fake-solved"
        " has no such route",
    ]
    assert drift_problems(page, fake_sources(trees)) == [
        "steps/02-fake.md:8 (marketsvc/missing.py on step-2-fake-solved): no such file on"
        " that branch"
    ]


def test_a_block_that_spells_a_files_code_out_is_reported(tmp_path: Path):
    page = write_page(
        tmp_path / "docs",
        "steps/02-fake.md",
        "---\nbranch: step-2-fake-solved\n---\n\n"
        '??? success "Solution"\n    ```python title="marketsvc/server.py"\n'
        "    --8<-- thing\n    # ...\n    async def totals(): ...\n    ```\n",
    )
    trees = {"step-2-fake-solved": {"marketsvc/server.py": SERVER}}
    [problem] = drift_problems(page, fake_sources(trees))
    assert problem.startswith("steps/02-fake.md:6: the block titled marketsvc/server.py spells")
    assert problem.endswith("'async def totals(): ...'")


def test_blocks_inside_admonitions_and_lists_are_found(tmp_path: Path):
    text = (
        '??? question "Why?"\n    Because:\n\n    ```python title="a.py"\n    x = 1\n\n'
        "        y = 2\n    ```\n\n1. Step\n\n    ````text\n    ```\n    ````\n"
    )
    blocks = list(code_blocks(text, tmp_path / "page.md"))
    assert [(b.line, b.file, b.lines) for b in blocks] == [
        (4, "a.py", ("x = 1", "", "    y = 2")),
        (12, None, ("```",)),
    ]


def test_run_sh_commands_are_its_case_labels():
    assert run_sh_commands(RUN_SH) == {"run", "custorders", "help", "-h", "--help"}
    main_commands = run_sh_commands((ROOT / "run.sh").read_text(encoding="utf-8"))
    assert {"run", "test", "steps", "check", "docs"} <= main_commands


def test_routes_are_read_from_decorators_and_matched_by_segment():
    routes = routes_in_source({"marketsvc/server.py": SERVER, "README.md": b'.get("/api/no")'})
    assert routes == {"/api/things/{thing_id}", "/api/totals"}
    assert unknown_routes({"/api/things/1", "/api/things/{id}", "/api/totals"}, routes) == []
    assert unknown_routes({"/api/things", "/api/things/1/2"}, routes) == [
        "/api/things",
        "/api/things/1/2",
    ]
