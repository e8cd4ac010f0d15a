"""How much of a twin step's solution its -base branch spells out.

Exercises state goals, not code: at most SPOILER_LIMIT of a step's solution
lines may be readable in its -base tree. Both sides are measured so:

Solution lines: the code lines that -solved adds or changes in its .py files
outside tests/, compared with -base line by line (difflib). A line counts by
its code, trailing comment cut off. Not counted: blank, comment and
docstring lines; trivial lines of fewer than two words (`try:`, `),`,
`statement = (`, `@classmethod`, a name alone in an import list); and lines
whose code -base already has in the same file, for an attendee does not
write a line that is there already (a one-line select() that the solution
spreads over lines).

Guidance: what -base gives to read without asking, outside tests/ and
tools/: the comments and docstrings of its .py files, the comments of its
shell scripts, every other text file (pages, README, mkdocs.yml), and
.step.toml without its hints, which come one level at a time only when asked
for (`./run.sh hint`, like `./run.sh solution`). The code of other files is
not guidance: a model to follow (the lessons of step 5, a sibling function)
is not a spoiler.

A solution line is spelled out when its code, whitespace collapsed, appears
in the guidance, whitespace collapsed too: so a line wrapped over two
comment lines still counts. `python -m tools.steps.spoilers [-v]` prints
every twin step's figure (with -v the lines and where they are; with
--with-hints counting the hints of .step.toml as well).
"""

from __future__ import annotations

import difflib
import io
import re
import sys
import tokenize
import tomllib
from dataclasses import dataclass, field

from .course import BRANCH_STEP_FILE, load_steps
from .layers import branch_tree
from .trees import Source, Tree, resolve_source

SPOILER_LIMIT = 0.15
NOT_GUIDANCE = ("tests/", "tools/")
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+|\"[^\"]*\"|'[^']*'")
SPACE = re.compile(r"\s+")


@dataclass
class Spoilers:
    branch: str
    solution: list[tuple[str, str]] = field(default_factory=list)  # (path, code)
    spelled: list[tuple[str, str, list[str]]] = field(default_factory=list)  # + where

    @property
    def share(self) -> float:
        return len(self.spelled) / len(self.solution) if self.solution else 0.0


def split_comments(text: str) -> tuple[list[str], list[str]]:
    """Each line's code (comments cut off, docstrings blanked) and the file's
    comments and docstrings, by tokenize; a file that does not tokenize is
    all code."""
    lines = text.splitlines()
    code, notes = list(lines), []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return code, notes
    previous = tokenize.NEWLINE
    for token in tokens:
        row, column = token.start
        if token.type == tokenize.COMMENT:
            notes.append(token.string.lstrip("#"))
            code[row - 1] = code[row - 1][:column]
        elif token.type == tokenize.STRING and previous in (
            tokenize.NEWLINE,
            tokenize.NL,
            tokenize.INDENT,
            tokenize.DEDENT,
        ):
            notes.append(token.string)  # a docstring, or a string on its own
            for row in range(token.start[0], token.end[0] + 1):
                code[row - 1] = ""
        if token.type not in (tokenize.COMMENT, tokenize.NL):
            previous = token.type
    return code, notes


def collapse(text: str) -> str:
    return SPACE.sub(" ", text).strip()


def trivial(code: str) -> bool:
    return len(WORD.findall(code)) < 2


def solution_lines(base: Tree, solved: Tree) -> list[tuple[str, str]]:
    found = []
    for path in sorted(solved):
        if not path.endswith(".py") or path.startswith("tests/"):
            continue
        new_code, _ = split_comments(solved[path].decode("utf-8"))
        old_text = base.get(path, b"").decode("utf-8")
        old_code, _ = split_comments(old_text)
        given = [collapse(line) for line in old_code if line.strip()]
        new_lines = solved[path].decode("utf-8").splitlines()
        matcher = difflib.SequenceMatcher(None, old_text.splitlines(), new_lines, autojunk=False)
        for tag, _i1, _i2, j1, j2 in matcher.get_opcodes():
            if tag not in ("replace", "insert"):
                continue
            for line in new_code[j1:j2]:
                code = collapse(line)
                if code and not trivial(code) and not any(code in old for old in given):
                    found.append((path, code))
    return found


def guidance(base: Tree, with_hints: bool = False) -> dict[str, str]:
    """path -> the text -base gives to read there, whitespace collapsed."""
    texts = {}
    for path, data in base.items():
        if path.startswith(NOT_GUIDANCE):
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if path.endswith(".py"):
            text = " ".join(split_comments(text)[1])
        elif path.endswith(".sh"):  # a program: its comments are the guidance
            text = " ".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
        elif path == BRANCH_STEP_FILE and not with_hints:
            text = step_toml_without_hints(text)
        texts[path] = collapse(text)
    return texts


def step_toml_without_hints(text: str) -> str:
    data = tomllib.loads(text)
    exercises = [
        {key: value for key, value in exercise.items() if key not in ("hint", "hints")}
        for exercise in data.pop("exercise", [])
    ]
    return " ".join(str(value) for value in [*data.values(), *exercises])


def measure(base: Tree, solved: Tree, branch: str = "", with_hints: bool = False) -> Spoilers:
    result = Spoilers(branch, solution_lines(base, solved))
    texts = guidance(base, with_hints)
    for path, code in result.solution:
        if where := sorted(name for name, text in texts.items() if code in text):
            result.spelled.append((path, code, where))
    return result


def measure_course(source: Source | None = None, with_hints: bool = False) -> list[Spoilers]:
    """Every twin step's -base branch, measured against its -solved twin."""
    src = resolve_source(source)
    steps = load_steps(src)
    return [
        measure(
            branch_tree(src, steps, index, "base"),
            branch_tree(src, steps, index, "solved"),
            step.branch_name("base"),
            with_hints,
        )
        for index, step in enumerate(steps)
        if step.twin
    ]


def main(argv: list[str]) -> int:
    """Print every twin step's figure; exit 1 when one is over the limit."""
    over = 0
    for found in measure_course(with_hints="--with-hints" in argv):
        counts = f"{len(found.spelled)}/{len(found.solution)}"
        mark = "" if found.share <= SPOILER_LIMIT else f"  over {SPOILER_LIMIT:.0%}"
        print(f"{found.branch}: {counts} = {found.share:.0%}{mark}")
        over += found.share > SPOILER_LIMIT
        if "-v" in argv:
            for path, code, where in found.spelled:
                print(f"    {path}: {code[:70]}  <- {', '.join(where)}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
