"""Python files by their top-level pieces, so a step can hold only what it
changes and take unchanged code from main by name.

A piece is one top-level statement with the comments and decorators right
above it, keyed by what it defines: `stream_query`, `Settings`, `BATCH_ROWS`,
`from sqlalchemy`, `import asyncio`, `__doc__`. These directives, each on a
line of its own at the top level of a step's .py file, use the keys:

    # steps: main KEY         main's piece KEY of the same file goes here
    # steps: main PATH::KEY   main's piece KEY of the file PATH (a .py path)
    # steps: previous KEY     the piece KEY of the same file as the previous
                              step left it (PATH::KEY works here too)
    # steps: patch            (first line) this file changes the one before it
    # steps: patch main       (first line) this file changes main's file

A `main` or `previous` directive may be followed by edit lines, which make an earlier
version of main's piece without copying it: `#-` and a line of the piece
removes that line, `#+` and a line adds one, `#=` and a line only anchors the
edit that follows. Each edit applies at the first place, after the previous
edit, where its `#=` and `#-` lines appear together; when main's piece no
longer has them, the build fails and names the step, the file and the piece.
`#+` lines before any `#=` or `#-` line go at the top of the piece (a
decorator, say).

A patch file lists only the pieces that differ from the file below it (the
one the previous step left, or main's). Each replaces the piece with its key
or, when no piece has that key, goes in after the piece before it. A `main`,
`previous` or `edit` directive right after the line before it (no blank line
between) keeps the blank lines that stood before the piece it replaces; when
it replaces none (or the file is no patch), a `main` or `previous` piece
takes the blank lines that stood right before it in its source. Two more
directives work in patches:

    # steps: delete KEY       the piece KEY is gone from here on
    # steps: delete KEY, KEY  several pieces at once (a key that holds a comma
                              is read whole when the file below has it)
    # steps: after KEY        the next new piece goes in after KEY
    # steps: edit KEY         the piece KEY below, changed by the edit lines
                              that follow (as after `main`)
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass

from .gitplumbing import StepsError

DIRECTIVE = re.compile(r"^# steps: (?P<verb>[a-z]+)(?: (?P<key>.+?))?[ \t]*$")
VERBS = {"main", "previous", "patch", "delete", "after", "edit"}
# Where a piece named by `main` or `previous` comes from, for messages.
OWNERS = {"main": "main", "previous": "the previous step"}
EDIT_LINE = re.compile(r"^#[-+=]")
PATCH_HEADER = "# steps: patch\n"
MAIN_PATCH_HEADER = "# steps: patch main\n"


@dataclass(frozen=True)
class Piece:
    key: str
    lead: str  # blank lines and loose comments before it
    body: str  # its comments, decorators and code
    verb: str | None = None  # a directive's verb; None for code
    edits: tuple[str, ...] = ()  # a main or edit directive's edit lines
    blanks: str = ""  # a main or previous piece's blank lines in its source

    @property
    def text(self) -> str:
        return self.lead + self.body


@dataclass
class Module:
    pieces: list[Piece]
    tail: str = ""

    @property
    def text(self) -> str:
        return "".join(piece.text for piece in self.pieces) + self.tail

    def find(self, key: str) -> int | None:
        return next((i for i, piece in enumerate(self.pieces) if piece.key == key), None)

    def keys(self) -> list[str]:
        return [piece.key for piece in self.pieces]


def has_directives(text: str) -> bool:
    return any(DIRECTIVE.match(line) for line in text.splitlines())


def patch_kind(text: str) -> str | None:
    """ "previous" or "main" for a patch file (by its first line), else None."""
    if text.startswith(PATCH_HEADER):
        return "previous"
    if text.startswith(MAIN_PATCH_HEADER):
        return "main"
    return None


def key_of(statement: ast.stmt, first_line: str, position: int) -> str:
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return statement.name
    targets = getattr(statement, "targets", ())
    if isinstance(statement, ast.Assign) and len(targets) == 1 and isinstance(targets[0], ast.Name):
        return targets[0].id
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return statement.target.id
    if isinstance(statement, ast.Import):
        return "import " + ", ".join(alias.name for alias in statement.names)
    if isinstance(statement, ast.ImportFrom):
        return "from " + "." * statement.level + (statement.module or "")
    value = getattr(statement, "value", None)
    if position == 0 and isinstance(statement, ast.Expr) and isinstance(value, ast.Constant):
        return "__doc__" if isinstance(value.value, str) else first_line.strip()
    return first_line.strip()


def split(text: str, where: str) -> Module:
    """A module's pieces; text == split(text).text, byte for byte."""
    lines = text.splitlines(keepends=True)
    # Directives become `pass` statements so that ast sees each as a piece.
    directives = {}
    parsed_lines = list(lines)
    for index, line in enumerate(lines):
        if match := DIRECTIVE.match(line):
            if match["verb"] not in VERBS:
                raise StepsError(f"{where}:{index + 1}: unknown directive {line.strip()!r}")
            directives[index] = match
            parsed_lines[index] = "pass\n"
    try:
        tree = ast.parse("".join(parsed_lines))
    except SyntaxError as error:
        raise StepsError(f"{where}:{error.lineno}: not valid Python: {error.msg}") from error
    pieces, done, seen = [], 0, {}
    for position, statement in enumerate(tree.body):
        first = statement.lineno - 1
        for decorator in getattr(statement, "decorator_list", []):
            first = min(first, decorator.lineno - 1)
        if first < done:  # two statements on one line: they stay one piece
            raise StepsError(f"{where}:{first + 1}: one statement per line at the top level")
        start = first
        while first not in directives and start > done and parsed_lines[start - 1].startswith("#"):
            start -= 1  # the comments right above a statement are part of it
        end = statement.end_lineno
        edits = ()
        if first in directives:
            match = directives[first]
            verb, key = match["verb"], (match["key"] or "").strip()
            while end < len(lines) and EDIT_LINE.match(lines[end]):
                end += 1
            edits = tuple(line.rstrip("\n") for line in lines[first + 1 : end])
            if edits and verb not in ("main", "previous", "edit"):
                raise StepsError(
                    f"{where}:{first + 2}: edit lines follow `main`, `previous` or `edit` only"
                )
        else:
            verb, key = None, key_of(statement, lines[first], position)
        if verb is None:
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > 1:
                key = f"{key} #{seen[key]}"
        lead, body = "".join(lines[done:start]), "".join(lines[start:end])
        pieces.append(Piece(key, lead, body, verb, edits))
        done = end
    return Module(pieces, "".join(lines[done:]))


# `# steps: main tests/test_routes.py::ALEX_ORDERS`: a piece of another file of main.
OTHER_FILE = re.compile(r"^(?P<path>[^\s:]+\.py)::(?P<key>.+)$")


def expand(
    module: Module, sources: dict[str, Callable[[str], Module | None]], where: str, own_path: str
) -> Module:
    """Replace every `# steps: main KEY` with main's piece KEY, and every
    `# steps: previous KEY` with the previous step's: sources[verb](path)
    gives that file in pieces (None when there is none); own_path is the
    path of the file being built, where KEY alone is looked up."""
    pieces = []
    for piece in module.pieces:
        if piece.verb in OWNERS:
            verb, named, path = piece.verb, piece.key, own_path
            if other := OTHER_FILE.match(named):  # the piece keeps KEY as its key
                piece = Piece(other["key"], piece.lead, piece.body, verb, piece.edits)
                path = other["path"]
            source = sources[verb](path)
            index = None if source is None else source.find(piece.key)
            if index is None:
                what = "has no piece" if source is not None else "is not a file, so it has no piece"
                raise StepsError(
                    f"{where}: `# steps: {verb} {named}`, but {OWNERS[verb]}'s {path} {what}"
                    f" {piece.key!r}"
                )
            found = source.pieces[index]
            where_edit = f"{where}: `# steps: {verb} {named}`"
            body = edited(found.body, piece.edits, where_edit)
            piece = Piece(piece.key, piece.lead, body, verb, blanks=blank_lines_before(found))
        elif piece.verb == "patch":
            raise StepsError(f"{where}: `# steps: patch` belongs on the first line only")
        pieces.append(piece)
    return Module(pieces, module.tail)


def apply_patch(below: Module, patch: Module, where: str) -> Module:
    """The file below with the patch's pieces laid on it."""
    result, cursor = Module(list(below.pieces)), 0

    def locate(key: str) -> int:
        index = result.find(key)
        if index is None:
            have = ", ".join(result.keys()) or "none"
            raise StepsError(f"{where}: no piece {key!r} in the file below; it has {have}")
        return index

    for piece in patch.pieces:
        if piece.verb == "after":
            cursor = locate(piece.key) + 1
        elif piece.verb == "delete":
            for key in deleted_keys(piece.key, result):
                index = locate(key)
                del result.pieces[index]
                cursor = index if cursor > index else cursor
        elif piece.verb == "edit":
            index = locate(piece.key)
            old = result.pieces[index]
            body = edited(old.body, piece.edits, f"{where}: `# steps: edit {piece.key}`")
            result.pieces[index] = Piece(piece.key, kept_lead(piece, old), body)
            cursor = index + 1
        else:  # code, or main's piece
            index = result.find(piece.key)
            if index is None:
                result.pieces.insert(cursor, Piece(piece.key, own_lead(piece), piece.body))
                cursor += 1
            else:
                old = result.pieces[index]
                result.pieces[index] = Piece(piece.key, kept_lead(piece, old), piece.body)
                cursor = index + 1
    return Module(result.pieces, patch.tail if patch.tail.strip() else below.tail)


def deleted_keys(named: str, below: Module) -> list[str]:
    """The keys of `# steps: delete KEY, KEY, ...`; a key of the file below
    that holds a comma itself is one key."""
    if below.find(named) is not None:
        return [named]
    return [key.strip() for key in named.split(",")]


def blank_lines_before(piece: Piece) -> str:
    lines = piece.lead.splitlines(keepends=True)
    blank = len(lines)
    while blank > 0 and not lines[blank - 1].strip():
        blank -= 1
    return "".join(lines[blank:])


def own_lead(piece: Piece) -> str:
    """The lines before a piece that replaces none: the file's; a `main` or
    `previous` directive right after the line before it takes the blank
    lines that stood before the piece in its source."""
    return piece.lead or piece.blanks


def with_own_leads(module: Module) -> Module:
    """A file that is no patch, its `main` and `previous` pieces given their leads."""
    return Module([Piece(p.key, own_lead(p), p.body, p.verb) for p in module.pieces], module.tail)


def kept_lead(piece: Piece, replaced: Piece) -> str:
    """The lines before a replacing piece: the patch's; a `main` or `edit`
    directive right after the line before it keeps those of the piece it
    replaces."""
    return piece.lead or (replaced.lead if piece.verb else "")


def hunks(edits: tuple[str, ...]) -> list[tuple[list[str], list[str], list[str]]]:
    """Edit lines grouped as (anchor, removed, added), in order."""
    groups: list[tuple[list[str], list[str], list[str]]] = []
    state = None
    for line in edits:
        kind, text = line[1], line[2:] + "\n"
        if not groups or (kind == "=" and state != "=") or (kind == "-" and state == "+"):
            groups.append(([], [], []))
        groups[-1][{"=": 0, "-": 1, "+": 2}[kind]].append(text)
        state = kind
    return groups


def edited(body: str, edits: tuple[str, ...], where: str) -> str:
    """body with its edit lines applied (see the module's docstring)."""
    lines, cursor = body.splitlines(keepends=True), 0
    for anchor, removed, added in hunks(edits):
        old = anchor + removed
        if not old:  # `#+` lines before any other: the top of the piece
            lines[0:0] = added
            cursor = len(added)
            continue
        at = next(
            (i for i in range(cursor, len(lines) - len(old) + 1) if lines[i : i + len(old)] == old),
            None,
        )
        if at is None:
            shown = "".join(f"\n    {line.rstrip()}" for line in old)
            raise StepsError(f"{where}: the piece no longer has these lines, in order:{shown}")
        lines[at : at + len(old)] = anchor + added
        cursor = at + len(anchor) + len(added)
    return "".join(lines)
