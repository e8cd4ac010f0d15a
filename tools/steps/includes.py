"""Pages include the code they show from the step branches' files.

In a page, a line inside a fenced code block

    --8<-- stream_query
    --8<-- stream_query :: conn = await :: await conn.close()
    --8<-- * :: import asyncio :: from sqlalchemy

is replaced, when the site is built, by that part of the file the block's
title names, on the branch of the page's front matter (or the block's
data-branch): a top-level definition or a method (`Order.items`) with its
decorators and the comments right above it, or `*` for the whole file,
optionally cut down to the lines from the first one containing the text
after the first ` :: ` to the first one from there containing the text
after the second. The part is re-indented to
the directive's indentation. Anything the directive names that is not there
fails the build and says which page, line and branch.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .gitplumbing import StepsError

DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)--8<-- (?P<spec>\S.*?)[ \t]*$")
NAME = re.compile(r"^(\*|[A-Za-z_][\w.]*)$")
SEPARATOR = " :: "
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
ATTRIBUTE = re.compile(r'\b(?P<key>[\w-]+)="(?P<value>[^"]*)"')


@dataclass(frozen=True)
class Include:
    line: int  # in the page, counting from 1
    indent: str
    spec: str
    file: str | None  # the fence's title
    branch: str | None  # the fence's data-branch, else the page's


def includes(markdown: str, page_branch: str | None) -> Iterator[Include]:
    """Every include directive of a page, with the fence it stands in."""
    fence, info = None, ""
    for number, line in enumerate(markdown.splitlines(), start=1):
        opening = FENCE.match(line)
        if fence is None and opening:
            fence, info = opening["fence"], opening["info"]
            continue
        if fence is not None and line.strip().startswith(fence) and set(line.strip()) == {fence[0]}:
            fence = None
            continue
        directive = DIRECTIVE.match(line)
        if directive:
            attributes = {m["key"]: m["value"] for m in ATTRIBUTE.finditer(info)}
            yield Include(
                number,
                directive["indent"],
                directive["spec"],
                attributes.get("title") if fence else None,
                attributes.get("data-branch", page_branch),
            )


def definitions(tree: ast.Module) -> dict[str, ast.AST]:
    """Top-level definitions and assignments by name; methods as Class.name."""
    found: dict[str, ast.AST] = {}

    def walk(body, prefix):
        for node in body:
            names = []
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            for name in names:
                found.setdefault(prefix + name, node)
            if isinstance(node, ast.ClassDef):
                walk(node.body, f"{prefix}{node.name}.")

    walk(tree.body, "")
    return found


def select(text: str, spec: str, where: str) -> str:
    """The part of a file's text that a directive names (see the docstring)."""
    name, start, stop, *rest = [*spec.split(SEPARATOR), "", ""]
    if not NAME.match(name) or any(rest):
        raise StepsError(f"{where}: {spec!r} is not NAME [:: FROM [:: TO]], or * for the file")
    lines = text.splitlines()
    first, last = 0, len(lines) - 1
    if name != "*":
        node = definitions(ast.parse(text)).get(name)
        if node is None:
            raise StepsError(f"{where}: the file defines no {name!r}")
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
        while first > 0 and lines[first - 1].strip().startswith("#"):
            first -= 1  # the comments right above belong to it
        last = node.end_lineno - 1
    if start:
        first = find_line(lines, start, first, last, where, "from")
    if stop:
        last = find_line(lines, stop, first, last, where, "to")
    return textwrap.dedent("\n".join(lines[first : last + 1]))


def find_line(lines: list[str], needle: str, first: int, last: int, where: str, which: str):
    for index in range(first, last + 1):
        if needle in lines[index]:
            return index
    raise StepsError(f"{where}: no line contains the `{which}` text {needle!r}")


def expand(
    markdown: str,
    page_branch: str | None,
    read: Callable[[str | None, str], str | None],
    page: str,
) -> str:
    """The page with every directive replaced by the code it names.

    read(branch, path) gives a file's text on a branch (None: main), or None.
    """
    lines = markdown.splitlines()
    for include in includes(markdown, page_branch):
        where = f"{page}:{include.line}"
        if include.file is None:
            raise StepsError(f"{where}: an include stands in a code block whose title is a file")
        where += f" ({include.file} on {include.branch or 'main'})"
        text = read(include.branch, include.file)
        if text is None:
            raise StepsError(f"{where}: no such file on that branch")
        part = select(text, include.spec, where)
        lines[include.line - 1] = textwrap.indent(part, include.indent, lambda _line: True)
    return "\n".join(lines) + ("\n" if markdown.endswith("\n") else "")
