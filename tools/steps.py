"""Build, check and verify the workshop's step branches.

steps/README.md describes how a branch's tree is made from main; this module
is that description in code. Three commands use it:

    python tools/steps.py build [--force] [--push REMOTE] [--from REF]
        create or refresh every step branch in this clone (./run.sh steps)
    python tools/steps.py check [PYTEST ARGS]
        on a step branch: which exercises are done, which are left (./run.sh check)
    python tools/steps.py verify [--jobs N] [--from REF]
        for CI: every -solved branch passes, every -base branch fails exactly
        its exercise tests

Other code imports load_steps, branch_names, build_tree and materialize.
Only the standard library is needed, except pytest for check and verify.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

# The repository this file lives in: tools/steps.py -> the repository root.
ROOT = Path(__file__).resolve().parent.parent

STEPS_DIR = "steps"
STEP_FILE = "step.toml"  # in each steps/NN-slug/ folder
BRANCH_STEP_FILE = ".step.toml"  # generated at the root of every step branch

# Main's folders that are not common to every branch (steps/README.md, rule 1).
NOT_COMMON = ("marketsvc/", "tests/", "steps/", "bench/", ".ci/")

# Step 10's solved tree takes marketsvc/ from main itself, not from steps/.
FINAL_STEP = 10

# Commits made by `build` carry this identity and trailer, so the tool can tell
# them from an attendee's own commits.
TRAILER = "Built-by: run.sh steps"
BOT_NAME = "Marketplace workshop steps"
BOT_EMAIL = "steps@marketplace-workshop.invalid"

REGULAR, EXECUTABLE = "100644", "100755"

STEP_FOLDER = re.compile(r"^(\d{2})-[a-z0-9]+(?:-[a-z0-9]+)*$")


class StepsError(Exception):
    """A problem the user can fix; the CLI prints it without a traceback."""


# --------------------------------------------------------------------------
# Trees and sources
# --------------------------------------------------------------------------


class Tree(dict[str, bytes]):
    """A branch's files: path -> content, plus which paths are executable."""

    def __init__(self, files=(), executable=()):
        super().__init__(files)
        self.executable = set(executable)

    def mode(self, path: str) -> str:
        return EXECUTABLE if path in self.executable else REGULAR

    def put(self, path: str, data: bytes, executable: bool = False) -> None:
        self[path] = data
        if executable:
            self.executable.add(path)
        else:
            self.executable.discard(path)

    def copy_from(self, other: Tree, path: str, as_path: str | None = None) -> None:
        self.put(as_path or path, other[path], path in other.executable)

    def drop(self, path: str) -> None:
        del self[path]
        self.executable.discard(path)

    def under(self, folder: str) -> list[str]:
        """The paths inside folder (given with its trailing slash)."""
        return sorted(path for path in self if path.startswith(folder))


@dataclass
class Source:
    """Main's files, which every branch is built from.

    Read either from a checkout on disk (what git would commit: tracked and
    untracked-but-not-ignored files) or from a git ref, so a build can read
    main whatever branch is checked out.
    """

    files: Tree
    repo: Path
    commit: str | None = None  # set when read from a ref

    @classmethod
    def from_worktree(cls, repo: Path = ROOT) -> Source:
        listing = git(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
        files = Tree()
        for path in sorted(set(listing.split("\0")) - {""}):
            on_disk = repo / path
            if on_disk.is_symlink() or not on_disk.is_file():
                continue  # deleted but still in the index, or not a plain file
            executable = bool(on_disk.stat().st_mode & 0o100)
            files.put(path, on_disk.read_bytes(), executable)
        return cls(files, repo)

    @classmethod
    def from_ref(cls, repo: Path, ref: str) -> Source:
        commit = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
        listing = git(repo, "ls-tree", "-r", "-z", commit)
        modes, blobs = {}, {}
        for entry in listing.split("\0"):
            if not entry:
                continue
            meta, path = entry.split("\t", 1)
            mode, _kind, sha = meta.split()
            if mode not in (REGULAR, EXECUTABLE):
                raise StepsError(f"{ref}:{path}: only plain files are supported (mode {mode})")
            modes[path], blobs[path] = mode, sha
        contents = read_blobs(repo, list(blobs.values()))
        files = Tree()
        for path, sha in blobs.items():
            files.put(path, contents[sha], modes[path] == EXECUTABLE)
        return cls(files, repo, commit)


def resolve_source(source: Source | str | Path | None) -> Source:
    """None: this checkout on disk; str: a git ref; Path: another checkout."""
    if source is None:
        return Source.from_worktree(ROOT)
    if isinstance(source, Source):
        return source
    if isinstance(source, Path):
        return Source.from_worktree(source)
    return Source.from_ref(ROOT, source)


# --------------------------------------------------------------------------
# Steps: steps/NN-slug/step.toml
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Exercise:
    name: str
    summary: str
    hint: str


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

    def branch_name(self, variant: str) -> str:
        return self.branch if variant == "single" else f"{self.branch}-{variant}"

    def layers(self, variant: str) -> list[tuple[str, tuple[str, ...]]]:
        """(overlay folder, paths removed after it), laid in this order."""
        if variant == "single":
            removed = sum((self.remove.get(table, ()) for table in ("", "base", "solved")), ())
            return [(f"{self.folder}/", removed)]
        layers = [(f"{self.folder}/base/", self.remove.get("base", ()))]
        if variant == "solved":
            layers.append((f"{self.folder}/solved/", self.remove.get("solved", ())))
        return layers


STEP_KEYS = {"title", "branch", "twin", "page", "exercise", "base", "solved", "remove"}


def load_steps(source: Source | str | Path | None = None) -> list[Step]:
    """Every step, in folder order, read from steps/NN-slug/step.toml."""
    src = resolve_source(source)
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
    check_layout(src, step, path)
    return step


def parse_exercises(path: str, tables: list) -> tuple[Exercise, ...]:
    exercises = []
    for table in tables:
        keys = {"name", "summary", "hint"}
        if set(table) != keys or not all(isinstance(table[key], str) for key in keys):
            raise StepsError(f"{path}: every [[exercise]] has a name, a summary and a hint only")
        exercises.append(Exercise(table["name"], table["summary"], table["hint"]))
    names = [exercise.name for exercise in exercises]
    if len(set(names)) != len(names):
        raise StepsError(f"{path}: exercise names must be unique")
    return tuple(exercises)


def check_layout(src: Source, step: Step, path: str) -> None:
    """A twin step holds base/ and solved/ only; a single step no base/ or solved/."""
    inside = {p.removeprefix(f"{step.folder}/") for p in src.files.under(f"{step.folder}/")}
    top = {p.split("/")[0] for p in inside} - {STEP_FILE}
    if step.twin:
        if "base" not in top:
            raise StepsError(f"{step.folder}/: a twin step needs a base/ folder")
        if stray := top - {"base", "solved"}:
            raise StepsError(
                f"{step.folder}/: a twin step holds only base/ and solved/, not {sorted(stray)}"
            )
    elif top & {"base", "solved"}:
        raise StepsError(f"{path}: twin = false, but the folder has base/ or solved/")


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


# --------------------------------------------------------------------------
# Building a branch's tree (steps/README.md, "How a branch's tree is made")
# --------------------------------------------------------------------------


def build_tree(branch: str, source: Source | str | Path | None = None) -> Tree:
    """The full file tree of a step branch: path -> content (a Tree, a dict)."""
    src = resolve_source(source)
    steps = load_steps(src)
    index, variant = find_branch(steps, branch)
    tree = step_tree(src, steps, index, variant)
    tree.put(BRANCH_STEP_FILE, step_toml(steps, index, variant).encode())
    return tree


def common_files(src: Source) -> Tree:
    """Rule 1: main's files outside marketsvc/, tests/, steps/, bench/, .ci/."""
    common = Tree()
    for path in src.files:
        if not path.startswith(NOT_COMMON):
            common.copy_from(src.files, path)
    return common


def step_tree(src: Source, steps: list[Step], index: int, variant: str) -> Tree:
    """A step's tree without its .step.toml, laid layer by layer."""
    step = steps[index]
    tree = common_files(src)
    if index > 0:
        previous = step_tree(src, steps, index - 1, steps[index - 1].finished)
        # Rule 2: the previous step's own files; common files stay main's.
        for path in previous:
            if path not in tree:
                tree.copy_from(previous, path)
    # Rule 3: the overlay folders, each followed by its removals.
    for folder, removed in step.layers(variant):
        lay_overlay(tree, src, folder)
        remove_paths(tree, removed, f"{step.folder}/{STEP_FILE}")
    # Rule 4: the final step's solution is the finished service on main.
    if step.number == FINAL_STEP and variant == "solved":
        take_marketsvc_from_main(tree, src, step)
    return tree


def lay_overlay(tree: Tree, src: Source, folder: str) -> None:
    for path in src.files.under(folder):
        relative = path.removeprefix(folder)
        if relative != STEP_FILE:
            tree.copy_from(src.files, path, as_path=relative)


def remove_paths(tree: Tree, paths: tuple[str, ...], where: str) -> None:
    """Delete files, or whole folders when a path names one."""
    for path in paths:
        doomed = [path] if path in tree else tree.under(path.rstrip("/") + "/")
        if not doomed:
            raise StepsError(
                f"{where}: cannot remove {path!r}: no such file or folder at that point"
            )
        for name in doomed:
            tree.drop(name)


def take_marketsvc_from_main(tree: Tree, src: Source, step: Step) -> None:
    if overlaid := src.files.under(f"{step.folder}/solved/marketsvc/"):
        raise StepsError(f"{overlaid[0]}: the final solved marketsvc/ is main's; edit main's")
    for path in tree.under("marketsvc/"):
        tree.drop(path)
    for path in src.files.under("marketsvc/"):
        tree.copy_from(src.files, path)


def step_toml(steps: list[Step], index: int, variant: str) -> str:
    """The .step.toml written at a branch's root; `check` reads it back."""
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
    for exercise in step.exercises:
        lines += [
            "",
            "[[exercise]]",
            f"name = {toml_string(exercise.name)}",
            f"summary = {toml_string(exercise.summary)}",
            f"hint = {toml_string(exercise.hint)}",
        ]
    return "\n".join(lines) + "\n"


def toml_string(text: str) -> str:
    """A TOML basic string. JSON's escapes are TOML's, except that TOML wants
    DEL escaped and has no surrogate pairs (so non-ASCII stays as it is)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def materialize(branch: str, dest: Path, source: Source | str | Path | None = None) -> Tree:
    """Write a branch's tree into dest (which must be empty or absent)."""
    tree = build_tree(branch, source)
    write_tree_to(tree, Path(dest))
    return tree


def write_tree_to(tree: Tree, dest: Path) -> None:
    if dest.exists() and any(dest.iterdir()):
        raise StepsError(f"{dest} is not empty")
    for path, data in tree.items():
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(0o755 if path in tree.executable else 0o644)


# --------------------------------------------------------------------------
# Git plumbing
# --------------------------------------------------------------------------


def git(
    repo: Path,
    *args: str,
    stdin: bytes | str | None = None,
    env: dict | None = None,
    check: bool = True,
) -> str:
    """Run git in repo and return its output (text)."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    result = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=data,
        capture_output=True,
        env={**os.environ, **(env or {})},
    )
    if check and result.returncode != 0:
        raise StepsError(f"git {' '.join(args)} failed:\n{result.stderr.decode().strip()}")
    return result.stdout.decode()


def git_ok(repo: Path, *args: str) -> bool:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True).returncode == 0


def read_blobs(repo: Path, shas: list[str]) -> dict[str, bytes]:
    """Many blobs' contents through one `git cat-file --batch`."""
    wanted = sorted(set(shas))
    result = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch"],
        input="".join(f"{sha}\n" for sha in wanted).encode(),
        capture_output=True,
        check=True,
    )
    out, position, contents = result.stdout, 0, {}
    for sha in wanted:
        header_end = out.index(b"\n", position)
        size = int(out[position:header_end].split()[2])
        contents[sha] = out[header_end + 1 : header_end + 1 + size]
        position = header_end + 1 + size + 1  # the content is followed by "\n"
    return contents


def blob_id(data: bytes, algorithm: str) -> str:
    return hashlib.new(algorithm, b"blob %d\0" % len(data) + data).hexdigest()


def write_git_tree(repo: Path, tree: Tree) -> str:
    """Store a Tree as a git tree object and return its id.

    Blobs are named in Python; only the missing ones are written. The tree
    object is made through a throw-away index (GIT_INDEX_FILE), so neither
    the real index nor the working tree is touched.
    """
    algorithm = git(repo, "rev-parse", "--show-object-format").strip()
    if algorithm not in ("sha1", "sha256"):
        algorithm = "sha1"  # a git too old to know the option has only SHA-1
    ids = {path: blob_id(data, algorithm) for path, data in tree.items()}
    check = git(repo, "cat-file", "--batch-check", stdin="".join(f"{i}\n" for i in ids.values()))
    missing = {line.split()[0] for line in check.splitlines() if line.endswith(" missing")}
    for path, object_id in ids.items():
        if object_id in missing:
            written = git(
                repo, "hash-object", "-w", "--stdin", "--no-filters", stdin=tree[path]
            ).strip()
            if written != object_id:
                raise StepsError(f"git named {path} {written}, expected {object_id}")
            missing.discard(object_id)
    entries = "".join(f"{tree.mode(path)} {ids[path]}\t{path}\0" for path in sorted(tree))
    with tempfile.TemporaryDirectory() as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        git(repo, "update-index", "--add", "-z", "--index-info", stdin=entries, env=env)
        return git(repo, "write-tree", env=env).strip()


# --------------------------------------------------------------------------
# build: create or refresh the step branches
# --------------------------------------------------------------------------


@dataclass
class Move:
    """What build does to one branch."""

    branch: str
    new: str  # the commit the branch will point at
    old: str | None  # where it points now, if it exists
    foreign: bool = False  # old holds commits the tool did not make

    @property
    def status(self) -> str:
        if self.old is None:
            return "created"
        return "unchanged" if self.old == self.new else "updated"


def default_source_ref(repo: Path) -> str:
    for ref in ("refs/heads/main", "refs/remotes/origin/main"):
        if git_ok(repo, "rev-parse", "--verify", "--quiet", ref):
            return ref.removeprefix("refs/heads/").removeprefix("refs/remotes/")
    raise StepsError("found neither a main branch nor origin/main; pass --from REF")


def branch_commit(repo: Path, branch: str) -> str | None:
    out = git(
        repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}", check=False
    )
    return out.strip() or None


def made_by_tool(repo: Path, commit: str) -> bool:
    """True for a commit build made. Amending, rebasing or cherry-picking one
    sets the committer to the attendee, so those count as the attendee's."""
    email, _, message = git(repo, "show", "-s", "--format=%ce%n%B", commit).partition("\n")
    return email == BOT_EMAIL and TRAILER in message


def commit_message(step: Step, variant: str) -> str:
    label = f"Step {step.number}" if variant == "single" else f"Step {step.number} ({variant})"
    return (
        f"{label}: {step.title}\n\n"
        f"Branch {step.branch_name(variant)}, built from {step.folder}/ on main.\n\n"
        f"{TRAILER}\n"
    )


def plan_moves(repo: Path, src: Source, steps: list[Step]) -> list[Move]:
    """The commit every branch should point at, without moving anything yet."""
    moves, parent = [], src.commit
    for index, step in enumerate(steps):
        for variant in step.variants:
            branch = step.branch_name(variant)
            tree = step_tree(src, steps, index, variant)
            tree.put(BRANCH_STEP_FILE, step_toml(steps, index, variant).encode())
            tree_id = write_git_tree(repo, tree)
            old = branch_commit(repo, branch)
            ours = old is not None and made_by_tool(repo, old)
            if ours and same_commit_shape(repo, old, tree_id, parent):
                new = old  # nothing changed: keep the commit the branch already has
            else:
                new = make_commit(repo, tree_id, parent, commit_message(step, variant), src)
            # Moving a branch to a descendant of where it is loses nothing.
            foreign = old not in (None, new) and not ours and not is_ancestor(repo, old, new)
            moves.append(Move(branch, new, old, foreign))
            parent = new
    return moves


def make_commit(repo: Path, tree_id: str, parent: str, message: str, src: Source) -> str:
    """A commit by the tool, dated like main's commit: the same inputs always
    give the same commit id, so rebuilding an unchanged main changes nothing."""
    date = git(repo, "show", "-s", "--format=%ct %cz", src.commit).strip()
    env = {}
    for role in ("AUTHOR", "COMMITTER"):
        env |= {f"GIT_{role}_NAME": BOT_NAME, f"GIT_{role}_EMAIL": BOT_EMAIL}
        env[f"GIT_{role}_DATE"] = date
    args = ["commit-tree", "--no-gpg-sign", tree_id, "-p", parent]
    return git(repo, *args, stdin=message, env=env).strip()


def is_ancestor(repo: Path, older: str, newer: str) -> bool:
    return git_ok(repo, "merge-base", "--is-ancestor", older, newer)


def same_commit_shape(repo: Path, commit: str, tree_id: str, parent: str) -> bool:
    tree, *parents = git(repo, "show", "-s", "--format=%T %P", commit).split()
    return tree == tree_id and parents == [parent]


def dirty(repo: Path) -> list[str]:
    """Uncommitted changes: modified, staged or new (not ignored) files."""
    return git(repo, "status", "--porcelain").splitlines()


def current_branch(repo: Path) -> str | None:
    return git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip() or None


def fail(first: str, *more: str) -> int:
    """Explain on stderr why nothing was done; the exit status is 1."""
    print(f"steps: {first}", *more, sep="\n", file=sys.stderr)
    return 1


def cmd_build(args: argparse.Namespace) -> int:
    repo = ROOT
    ref = args.from_ or default_source_ref(repo)
    src = Source.from_ref(repo, ref)
    steps = load_steps(src)

    if (changes := dirty(repo)) and not args.force:
        return fail(
            "your working tree has uncommitted changes; nothing was changed.",
            *(f"    {line}" for line in changes[:10]),
            "Commit or stash them first (git stash), or run again with --force.",
        )

    moves = plan_moves(repo, src, steps)
    if (foreign := [move.branch for move in moves if move.foreign]) and not args.force:
        return fail(
            "these branches hold commits that ./run.sh steps did not make:",
            *(f"    {branch}" for branch in foreign),
            "Nothing was changed. To keep that work, rename the branch first",
            "(git branch -m step-N-... my-step-N), then run again. Or run again with",
            "--force to move the branches anyway; the old commits stay in git reflog.",
        )

    # The checked-out branch is moved with `git reset --keep`: it updates the
    # files that differ between the old and the new commit and aborts, moving
    # nothing, if one of them has local changes, so no uncommitted work is lost
    # (unlike reset --hard) and HEAD stays on the branch (unlike a detach).
    # It goes first so that a refusal leaves every branch as it was.
    here = current_branch(repo)
    for move in moves:
        moving_here = move.branch == here and move.status != "unchanged"
        if moving_here and not git_ok(repo, "reset", "--quiet", "--keep", move.new):
            return fail(
                f"could not move {here}, which is checked out, without losing local changes.",
                "Commit or stash them (git stash), or switch to main, then run again.",
            )

    transaction = (
        "start\n"
        + "".join(
            f"update refs/heads/{m.branch} {m.new} {m.old or '0' * len(m.new)}\n"
            for m in moves
            if m.status != "unchanged" and m.branch != here
        )
        + "prepare\ncommit\n"
    )
    git(repo, "update-ref", "--stdin", stdin=transaction)

    width = max(len(move.branch) for move in moves)
    for move in moves:
        print(f"{move.branch:<{width}}  {move.status}")
    print(f"Built from {ref} ({src.commit[:10]}). Start with: git checkout {moves[0].branch}")

    if args.push:
        return push(repo, args.push, [move.branch for move in moves])
    return 0


def push(repo: Path, remote: str, branches: list[str]) -> int:
    """Push every step branch; --force-with-lease refuses to overwrite a
    remote branch that changed since we last fetched it."""
    refspecs = [f"refs/heads/{branch}:refs/heads/{branch}" for branch in branches]
    result = subprocess.run(
        ["git", "-C", str(repo), "push", "--atomic", "--force-with-lease", remote, *refspecs]
    )
    return result.returncode


# --------------------------------------------------------------------------
# Running a branch's tests (check, and verify's child processes)
# --------------------------------------------------------------------------


@dataclass
class Outcomes:
    """What one pytest run did, test by test."""

    tests: dict[str, dict] = field(default_factory=dict)  # nodeid -> {outcome, exercise}
    errors: list[str] = field(default_factory=list)  # modules that failed to collect
    exit_code: int = 0

    def to_json(self) -> str:
        return json.dumps({"tests": self.tests, "errors": self.errors, "exit_code": self.exit_code})

    @classmethod
    def from_json(cls, text: str) -> Outcomes:
        return cls(**json.loads(text))


class OutcomePlugin:
    """A pytest plugin recording each test's outcome and exercise marker."""

    def __init__(self, outcomes: Outcomes):
        self.outcomes = outcomes

    def pytest_collection_modifyitems(self, items):
        for item in items:
            marker = item.get_closest_marker("exercise")
            name = marker.args[0] if marker and marker.args else None
            self.outcomes.tests[item.nodeid] = {"outcome": "not run", "exercise": name}

    def pytest_collectreport(self, report):
        if report.failed:
            self.outcomes.errors.append(report.nodeid or "(collection)")

    def pytest_runtest_logreport(self, report):
        test = self.outcomes.tests.setdefault(
            report.nodeid, {"outcome": "not run", "exercise": None}
        )
        if report.failed:
            test["outcome"] = "failed"  # in setup, call or teardown
        elif test["outcome"] != "failed" and (report.when == "call" or report.skipped):
            test["outcome"] = "skipped" if report.skipped else "passed"


def run_tests(root: Path, pytest_args: list[str]) -> Outcomes:
    """Run a branch's tests in this process, from its root."""
    import pytest  # only check and verify need it

    outcomes = Outcomes()
    os.chdir(root)
    sys.path.insert(0, str(root))  # so the tests import the branch's marketsvc
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


def cmd_check(args: argparse.Namespace, pytest_args: list[str]) -> int:
    root = Path(args.root).resolve()
    info = read_branch_step(root)
    if info is None:
        print(NOT_ON_A_STEP)
        return 2
    if not args.json:
        print(f"Running the tests of {info['branch']}...\n", flush=True)
    outcomes = run_tests(root, pytest_args)
    if args.json:
        Path(args.json).write_text(outcomes.to_json())
        return 0
    return report(info, outcomes)


def say(label: str, text: str) -> None:
    """Print text after label, wrapped to fit a terminal, aligned after it."""
    print(textwrap.fill(text, 88, initial_indent=label, subsequent_indent=" " * len(label)))


def report(info: dict, outcomes: Outcomes) -> int:
    """Print exercise by exercise what is done; 0 when everything passes."""
    variant = info["variant"]
    label = f"Step {info['step']}" + ("" if variant == "single" else f" ({variant})")
    print(f"\n{label}: {info['title']}")
    print(f"Read along: {info['page']}\n")

    exercises = info.get("exercise", [])
    names = {exercise["name"] for exercise in exercises}
    left = 0
    for exercise in exercises:
        results = [
            t["outcome"] for t in outcomes.tests.values() if t["exercise"] == exercise["name"]
        ]
        done = results and all(result == "passed" for result in results)
        state = "done" if done else "to do" if results else "not run"
        say(f"  {state:<8} ", f"{exercise['name']}: {exercise['summary']}")
        if not done:
            left += 1
            say("           hint: ", exercise["hint"])

    others = [t["outcome"] for t in outcomes.tests.values() if t["exercise"] not in names]
    broken = others.count("failed") + len(outcomes.errors)
    counts = ", ".join(
        f"{others.count(o)} {o}" for o in ("passed", "failed", "skipped") if others.count(o)
    )
    which = "other tests" if exercises else "tests"
    print(f"  {'broken' if broken else 'ok':<8} {which}: {counts or 'none ran'}")
    for error in outcomes.errors:
        print(f"           could not load {error}: see the error above")

    print()
    if left == 0 and not broken and outcomes.exit_code in (0, 5):
        print(
            "Everything passes."
            + (
                f" Next: git checkout {info['next']}"
                if info.get("next")
                else " That was the last step!"
            )
        )
        return 0
    if exercises:
        print(f"{len(exercises) - left} of {len(exercises)} exercises done.", end=" ")
    if broken:
        print(
            "Some tests that passed at the start of the step fail now; the output above says why.",
            end=" ",
        )
    print("Run ./run.sh check again after your next change.")
    if info.get("solution"):
        print(f"Stuck? Compare with the solution: git diff HEAD {info['solution']}")
    return 1


# --------------------------------------------------------------------------
# verify: CI's proof that every step works and every exercise is real
# --------------------------------------------------------------------------


@dataclass
class Verdict:
    branch: str
    passed: int = 0
    failed: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    output: str = ""


def judge(step: Step, variant: str, outcomes: Outcomes, known: set[str]) -> list[str]:
    """What is wrong with a branch's test results, if anything."""
    problems = [f"could not collect {error}" for error in outcomes.errors]
    if not outcomes.tests:
        problems.append("no tests ran")
    mine = {exercise.name for exercise in step.exercises}
    for nodeid, test in sorted(outcomes.tests.items()):
        name, outcome = test["exercise"], test["outcome"]
        if name is not None and name not in known:
            problems.append(f"{nodeid}: exercise {name!r} is in no step.toml")
        should_fail = variant == "base" and name in mine
        if should_fail and outcome != "failed":
            problems.append(
                f"{nodeid}: exercise test {outcome} on -base; it must fail until it is done"
            )
        elif not should_fail and outcome not in ("passed", "skipped"):
            problems.append(f"{nodeid}: {outcome}")
    marked = {test["exercise"] for test in outcomes.tests.values()}
    problems += [f"exercise {name!r} has no test marked with it" for name in sorted(mine - marked)]
    return problems


def verify_branch(tree: Tree, step: Step, variant: str, known: set[str]) -> Verdict:
    verdict = Verdict(step.branch_name(variant))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="step-") as scratch:
        checkout, report_file = Path(scratch) / "tree", Path(scratch) / "outcomes.json"
        write_tree_to(tree, checkout)
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "check",
            "--root",
            str(checkout),
            "--json",
            str(report_file),
        ]
        command += ["-p", "no:cacheprovider", "-q"]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        run = subprocess.run(
            command, cwd=checkout, capture_output=True, text=True, env=env, timeout=900
        )
        verdict.output = run.stdout + run.stderr
        if not report_file.exists():
            verdict.problems.append(f"the test run crashed (exit {run.returncode})")
        else:
            outcomes = Outcomes.from_json(report_file.read_text())
            results = [test["outcome"] for test in outcomes.tests.values()]
            verdict.passed, verdict.failed = results.count("passed"), results.count("failed")
            verdict.problems = judge(step, variant, outcomes, known)
    verdict.seconds = time.monotonic() - started
    return verdict


def cmd_verify(args: argparse.Namespace) -> int:
    src = resolve_source(args.from_)
    steps = load_steps(src)
    known = {exercise.name for step in steps for exercise in step.exercises}
    jobs = []
    for index, step in enumerate(steps):
        for variant in step.variants:
            tree = step_tree(src, steps, index, variant)
            tree.put(BRANCH_STEP_FILE, step_toml(steps, index, variant).encode())
            jobs.append((tree, step, variant))

    def run(job):
        verdict = verify_branch(*job, known)
        mark = "ok" if not verdict.problems else "MISMATCH"
        print(
            f"  {verdict.branch}: {verdict.passed} passed, {verdict.failed} failed, {mark}"
            f" ({verdict.seconds:.0f} s)",
            flush=True,
        )
        return verdict

    print(f"Verifying {len(jobs)} branches, {args.jobs} at a time", flush=True)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        verdicts = list(pool.map(run, jobs))
    return print_verdicts(verdicts)


def print_verdicts(verdicts: list[Verdict]) -> int:
    width = max(len(v.branch) for v in verdicts)
    print(f"\n{'branch':<{width}}  passed  failed  verdict")
    for v in verdicts:
        verdict = "MISMATCH" if v.problems else "ok"
        print(f"{v.branch:<{width}}  {v.passed:>6}  {v.failed:>6}  {verdict}")
    bad = [v for v in verdicts if v.problems]
    for v in bad:
        print(f"\n{v.branch}:")
        print("\n".join(f"  - {problem}" for problem in v.problems))
        print("  last lines of its test output:")
        print("\n".join(f"    {line}" for line in v.output.rstrip().splitlines()[-30:]))
    print(f"\n{len(verdicts) - len(bad)} of {len(verdicts)} branches as expected.")
    return 1 if bad else 0


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="tools/steps.py", description=__doc__.split("\n\n")[0])
    commands = cli.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="create or refresh the step branches from main")
    build.add_argument(
        "--force", action="store_true", help="also with uncommitted changes or foreign commits"
    )
    build.add_argument("--push", metavar="REMOTE", help="then push every step branch to REMOTE")
    build.add_argument(
        "--from",
        dest="from_",
        metavar="REF",
        help="build from REF (default: main, else origin/main)",
    )

    check = commands.add_parser("check", help="on a step branch: which exercises are done")
    check.add_argument("--root", default=str(ROOT), help=argparse.SUPPRESS)
    check.add_argument("--json", metavar="FILE", help=argparse.SUPPRESS)  # for verify

    verify = commands.add_parser("verify", help="CI: run every branch's tests and judge them")
    verify.add_argument("--jobs", type=int, default=2, help="branches tested at once (default 2)")
    verify.add_argument(
        "--from", dest="from_", metavar="REF", help="build from REF (default: this checkout)"
    )
    return cli


def main(argv: list[str] | None = None) -> int:
    args, extra = parser().parse_known_args(argv)
    if extra and args.command != "check":
        parser().error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if args.command == "build":
            return cmd_build(args)
        if args.command == "check":
            return cmd_check(args, extra)
        return cmd_verify(args)
    except StepsError as error:
        print(f"steps: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
