"""The course: steps/NN-slug/step.toml read into Step objects, and the
.step.toml that every branch carries at its root."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .gitplumbing import StepsError
from .trees import Source, resolve_source

STEPS_DIR = "steps"
STEP_FILE = "step.toml"  # in each steps/NN-slug/ folder
BRANCH_STEP_FILE = ".step.toml"  # generated at the root of every step branch

# The final step's solved tree takes marketsvc/ from main itself.
FINAL_STEP = 10

STEP_FOLDER = re.compile(r"^(\d{2})-[a-z0-9]+(?:-[a-z0-9]+)*$")
STEP_KEYS = {"title", "branch", "twin", "page", "exercise", "base", "solved", "remove"}


HINT_LEVELS = 3  # the idea, then the API names, then nearly the code


@dataclass(frozen=True)
class Exercise:
    name: str
    summary: str
    hints: tuple[str, ...]  # HINT_LEVELS of them, ./run.sh hint shows one more each time


@dataclass(frozen=True)
class Step:
    number: int
    folder: str  # "steps/06-asyncio-sqlalchemy"
    title: str
    branch: str  # "step-6-asyncio-sqlalchemy": the branch, or the twins' stem
    twin: bool
    page: str
    exercises: tuple[Exercise, ...] = ()
    remove: dict[str, tuple[str, ...]] = field(default_factory=dict)  # by table

    @property
    def variants(self) -> list[str]:
        return ["base", "solved"] if self.twin else ["single"]

    @property
    def finished(self) -> str:
        """The variant the next step starts from."""
        return self.variants[-1]

    @property
    def branches(self) -> list[str]:
        return [self.branch_name(variant) for variant in self.variants]

    @property
    def exercise_names(self) -> set[str]:
        return {exercise.name for exercise in self.exercises}

    def branch_name(self, variant: str) -> str:
        return self.branch if variant == "single" else f"{self.branch}-{variant}"

    def removed(self, variant: str) -> tuple[str, ...]:
        """Paths deleted after the overlay: `remove`, then the variant's own."""
        return self.remove.get("", ()) + self.remove.get(variant, ())


def load_steps(source: Source | str | Path | None = None) -> list[Step]:
    """Every step, in folder order, read from steps/NN-slug/step.toml."""
    src = resolve_source(source)
    if "steps" in src.built:
        return src.built["steps"]
    folders = sorted(
        {path.split("/")[1] for path in src.files.under(f"{STEPS_DIR}/") if path.count("/") >= 2}
    )
    if not folders:
        raise StepsError(f"no step folders in {STEPS_DIR}/ (is this main?)")
    steps = []
    for position, name in enumerate(folders, start=1):
        match = STEP_FOLDER.match(name)
        if not match:
            raise StepsError(
                f"{STEPS_DIR}/{name}: step folders are named NN-slug, e.g. 02-sqlalchemy"
            )
        if int(match[1]) != position:
            raise StepsError(
                f"{STEPS_DIR}/{name}: expected {position:02d}; numbers go without gaps"
            )
        steps.append(parse_step(src, position, f"{STEPS_DIR}/{name}"))
    src.built["steps"] = steps
    return steps


def parse_step(src: Source, number: int, folder: str) -> Step:
    path = f"{folder}/{STEP_FILE}"
    if path not in src.files:
        raise StepsError(f"{folder}/ has no {STEP_FILE}")
    try:
        data = tomllib.loads(src.files[path].decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise StepsError(f"{path}: {error}") from error

    def required(key: str, kind: type):
        if not isinstance(data.get(key), kind):
            raise StepsError(f"{path}: `{key}` is missing or not a {kind.__name__}")
        return data[key]

    if unknown := set(data) - STEP_KEYS:
        raise StepsError(f"{path}: unknown keys {sorted(unknown)}")
    for table in ("base", "solved"):
        if unknown := set(data.get(table, {})) - {"remove"}:
            raise StepsError(f"{path}: unknown keys in [{table}]: {sorted(unknown)}")

    def removals(table: dict) -> tuple[str, ...]:
        paths = table.get("remove", [])
        if not (isinstance(paths, list) and all(isinstance(p, str) for p in paths)):
            raise StepsError(f"{path}: `remove` is a list of paths")
        return tuple(paths)

    step = Step(
        number=number,
        folder=folder,
        title=required("title", str),
        branch=required("branch", str),
        twin=required("twin", bool),
        page=required("page", str),
        exercises=parse_exercises(path, data.get("exercise", [])),
        remove={
            "": removals(data),
            "base": removals(data.get("base", {})),
            "solved": removals(data.get("solved", {})),
        },
    )
    if not step.branch.startswith(f"step-{number}-"):
        raise StepsError(f"{path}: branch must start with step-{number}-")
    if not step.twin and (step.exercises or step.remove["base"] or step.remove["solved"]):
        raise StepsError(f"{path}: twin = false, so no [[exercise]], [base] or [solved]")
    for old in ("base/", "solved/"):
        if src.files.under(f"{folder}/{old}"):
            raise StepsError(
                f"{folder}/{old}: a step holds one tree; mark what -base does differently"
                " with # >>> exercise: NAME ... # --- stub ... # <<< exercise: NAME"
                " (steps/README.md)"
            )
    return step


def parse_exercises(path: str, tables: list) -> tuple[Exercise, ...]:
    exercises = []
    for table in tables:
        hints = table.get("hints")
        if (
            set(table) != {"name", "summary", "hints"}
            or not all(isinstance(table[key], str) for key in ("name", "summary"))
            or not isinstance(hints, list)
            or len(hints) != HINT_LEVELS
            or not all(isinstance(hint, str) and hint for hint in hints)
        ):
            raise StepsError(
                f"{path}: every [[exercise]] has a name, a summary and hints only:"
                f" {HINT_LEVELS} strings, from the idea to nearly the code"
            )
        exercises.append(Exercise(table["name"], table["summary"], tuple(hints)))
    names = [exercise.name for exercise in exercises]
    if len(set(names)) != len(names):
        raise StepsError(f"{path}: exercise names must be unique")
    return tuple(exercises)


def branch_names(source: Source | str | Path | None = None) -> list[str]:
    """Every step branch, in course order."""
    return [name for step in load_steps(source) for name in step.branches]


def find_branch(steps: list[Step], branch: str) -> tuple[int, str]:
    """(index of the step in steps, variant) for a branch name."""
    for index, step in enumerate(steps):
        for variant in step.variants:
            if step.branch_name(variant) == branch:
                return index, variant
    known = ", ".join(name for step in steps for name in step.branches)
    raise StepsError(f"unknown step branch {branch!r}; the step branches are: {known}")


def step_toml(steps: list[Step], index: int, variant: str, offers: list[str]) -> str:
    """The .step.toml written at a branch's root; check, hint, solution and
    run.sh read it back. offers: the run.sh commands and options that work on
    the branch (tools/steps/offers.py)."""
    step = steps[index]
    lines = [
        "# Which workshop step this branch is. Generated by ./run.sh steps from",
        f"# {step.folder}/{STEP_FILE} on main; ./run.sh check reads it.",
        f"step = {step.number}",
        f"title = {toml_string(step.title)}",
        f"variant = {toml_string(variant)}",
        f"branch = {toml_string(step.branch_name(variant))}",
        f"page = {toml_string(step.page)}",
    ]
    if variant == "base":
        lines.append(f"solution = {toml_string(step.branch_name('solved'))}")
    if index + 1 < len(steps):
        following = steps[index + 1]
        lines.append(f"next = {toml_string(following.branch_name(following.variants[0]))}")
    # For the course's progress: the exercises of the steps before this one, and all.
    lines.append(f"exercises_before = {sum(len(s.exercises) for s in steps[:index])}")
    lines.append(f"exercises_in_course = {sum(len(s.exercises) for s in steps)}")
    # One line: run.sh reads it with grep.
    lines.append(f"offers = [{', '.join(toml_string(name) for name in offers)}]")
    for exercise in step.exercises:
        lines += [
            "",
            "[[exercise]]",
            f"name = {toml_string(exercise.name)}",
            f"summary = {toml_string(exercise.summary)}",
            f"hints = [{', '.join(toml_string(hint) for hint in exercise.hints)}]",
        ]
    return "\n".join(lines) + "\n"


def toml_string(text: str) -> str:
    """A TOML basic string. JSON's escapes are TOML's, except that TOML wants
    DEL escaped and has no surrogate pairs (so non-ASCII stays as it is)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")
