"""hint and solution: help with a step's exercises, a little at a time.

`hint [EXERCISE]` shows one more level each time (the idea, then the API
names, then nearly the code) and remembers the level reached (tools/steps/
state.py). `solution EXERCISE` shows, after asking, what the exercise
changes: the diff between -base and -base with that exercise alone solved,
built from main's steps/ as ./run.sh steps builds the branches.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from . import state
from .check import NOT_ON_A_STEP, read_branch_step, say
from .course import HINT_LEVELS, load_steps
from .gitplumbing import StepsError
from .layers import step_tree
from .trees import Source


def step_info(root: Path) -> dict | None:
    info = read_branch_step(root)
    if info is None:
        print(NOT_ON_A_STEP)
    elif not info.get("exercise"):
        print(f"Step {info['step']} has no exercises: read {info['page']} and try its code.")
        return None
    return info


def pick_exercise(info: dict, name: str | None, data: dict) -> dict | None:
    """The exercise named, else the first that the last check did not see done."""
    exercises = info["exercise"]
    if name is not None:
        for exercise in exercises:
            if exercise["name"] == name:
                return exercise
        names = ", ".join(exercise["name"] for exercise in exercises)
        print(f"Step {info['step']} has no exercise {name!r}; its exercises: {names}")
        return None
    done = state.last_done(data, info["branch"]) or set()
    return next((e for e in exercises if e["name"] not in done), exercises[-1])


def cmd_hint(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve()
    if (info := step_info(root)) is None:
        return 2
    data = state.load(root)
    if (exercise := pick_exercise(info, args.exercise, data)) is None:
        return 2
    name = exercise["name"]
    level = min(state.hint_level(data, info["step"], name) + 1, HINT_LEVELS)
    state.set_hint_level(data, info["step"], name, level)
    state.save(root, data)

    say(f"{name}: ", exercise["summary"], indent="    ")
    print()
    labels = ["the idea", "what to use", "nearly the code"]
    for number, hint in enumerate(exercise["hints"][:level], start=1):
        label = f"Hint {number} of {HINT_LEVELS} ({labels[number - 1]}): "
        say(label, hint, indent="    ")
        print()
    left = HINT_LEVELS - level
    if left:
        print(f"{left} more level{'s' * (left > 1)}: ./run.sh hint {name} shows the next.")
    else:
        print(f"That was the last level. ./run.sh solution {name} shows the solution itself.")
    return 0


def solution_diff(repo: Path, info: dict, name: str) -> str:
    """What solving exercise `name` alone changes on this step's -base."""
    from .build import default_source_ref  # git is needed only here

    ref = default_source_ref(repo)
    src = Source.from_ref(repo, ref)
    steps = load_steps(src)
    index = next((i for i, step in enumerate(steps) if step.number == info["step"]), None)
    if index is None or name not in steps[index].exercise_names:
        raise StepsError(f"{ref} has no exercise {name!r} in step {info['step']}")
    base = step_tree(src, steps, index, "base")
    solved = step_tree(src, steps, index, "base", regions_as=f"only:{name}")
    lines = []
    for path in sorted(base.keys() | solved.keys()):
        before, after = base.get(path, b""), solved.get(path, b"")
        if before != after:
            lines += difflib.unified_diff(
                before.decode().splitlines(keepends=True),
                after.decode().splitlines(keepends=True),
                f"a/{path}",
                f"b/{path}",
            )
    return "".join(lines)


def cmd_solution(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve()
    if (info := step_info(root)) is None:
        return 2
    if args.exercise is None and len(info["exercise"]) > 1:
        names = ", ".join(exercise["name"] for exercise in info["exercise"])
        print(f"Which exercise? ./run.sh solution NAME, with NAME one of: {names}")
        return 2
    if (exercise := pick_exercise(info, args.exercise, {})) is None:
        return 2
    name = exercise["name"]
    if not args.yes:
        if not sys.stdin.isatty():
            print(
                "solution shows the answer only after asking you at a terminal,"
                f" or with --yes: ./run.sh solution {name} --yes"
            )
            return 2
        answer = input(f"Show the solution of {name}? It gives the exercise away [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Not shown. ./run.sh hint gives a smaller push.")
            return 1
    diff = solution_diff(root, info, name)
    # The diff alone on stdout, so that `... --yes | git apply` applies it.
    print(diff, end="")
    if not diff:
        print(f"{name} changes nothing on this branch's files (is main newer than it?)")
    if info.get("solution"):
        print(
            f"The whole step's solution: git diff {info['branch']} {info['solution']}",
            file=sys.stderr,
        )
    return 0
