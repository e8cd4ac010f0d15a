"""Exercise markers: a step's files hold the solution, and each region that
-base shows differently is marked with the stub that replaces it there.

    # >>> exercise: stream-query
    ...the solution, as -solved has it...
    # --- stub
    ...what -base has instead (may be empty)...
    # <<< exercise: stream-query

Marker lines may be indented; they never reach a branch. A region without a
`# --- stub` line is solution only: -base has nothing in its place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .gitplumbing import StepsError

BEGIN = re.compile(r"^[ \t]*# >>> exercise: (?P<name>\S+)[ \t]*$")
STUB = re.compile(r"^[ \t]*# --- stub[ \t]*$")
END = re.compile(r"^[ \t]*# <<< exercise: (?P<name>\S+)[ \t]*$")
# Anything that looks like a marker, also a misspelt one: none may reach a branch.
ANY_MARKER = re.compile(r"^[ \t]*# (>>>|<<<|--- stub)", re.MULTILINE)


@dataclass(frozen=True)
class Region:
    exercise: str
    begin: int  # line numbers in the marked file, counting from 1
    stub: int | None
    end: int


def regions(text: str, where: str) -> list[Region]:
    """The marked regions of a file; a malformed marker is an error naming its line."""
    found, open_at, name, stub = [], None, None, None
    for number, line in enumerate(text.splitlines(), start=1):
        place = f"{where}:{number}"
        if begin := BEGIN.match(line):
            if open_at is not None:
                raise StepsError(f"{place}: exercise {name!r} (line {open_at}) is still open")
            open_at, name, stub = number, begin["name"], None
        elif STUB.match(line):
            if open_at is None or stub is not None:
                raise StepsError(f"{place}: `# --- stub` outside an exercise region")
            stub = number
        elif end := END.match(line):
            if open_at is None:
                raise StepsError(f"{place}: `# <<< exercise: {end['name']}` closes nothing")
            if end["name"] != name:
                raise StepsError(
                    f"{place}: closes exercise {end['name']!r}, but {name!r} is open"
                    f" (line {open_at})"
                )
            found.append(Region(name, open_at, stub, number))
            open_at = None
        elif ANY_MARKER.match(line):
            raise StepsError(f"{place}: not a marker this tool knows: {line.strip()!r}")
    if open_at is not None:
        raise StepsError(f"{where}:{open_at}: exercise {name!r} is never closed")
    return found


def resolve(text: str, variant: str, where: str, exercises: set[str]) -> str:
    """The file as the variant's branch has it: solutions on -solved (and on a
    single step, which may have no markers), stubs on -base. The variant
    "only:NAME" has exercise NAME's solution and the other exercises' stubs."""
    found = regions(text, where)
    if not found:
        return text
    if variant == "single":
        raise StepsError(f"{where}:{found[0].begin}: exercise markers in a step without twins")
    for region in found:
        if region.exercise not in exercises:
            known = ", ".join(sorted(exercises)) or "none"
            raise StepsError(
                f"{where}:{region.begin}: exercise {region.exercise!r} is not in this step's"
                f" step.toml (its exercises: {known})"
            )
    lines = text.splitlines(keepends=True)
    keep = [True] * len(lines)
    for region in found:
        stub = region.stub or region.end
        keep[region.begin - 1] = keep[stub - 1] = keep[region.end - 1] = False
        # lines before the stub are the solution, lines after it the stub
        solution, replacement = range(region.begin, stub - 1), range(stub, region.end - 1)
        solved = variant in ("solved", f"only:{region.exercise}")
        for index in replacement if solved else solution:
            keep[index] = False
    return "".join(line for line, kept in zip(lines, keep, strict=True) if kept)
