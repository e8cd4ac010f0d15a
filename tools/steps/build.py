"""build: create or refresh the step branches, one linear commit per branch."""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .course import Step, load_steps
from .gitplumbing import StepsError, git, git_ok, write_git_tree
from .layers import branch_tree
from .trees import ROOT, Source

# Commits made by `build` carry this identity and trailer, so the tool can tell
# them from an attendee's own commits.
TRAILER = "Built-by: run.sh steps"
BOT_NAME = "Marketplace workshop steps"
BOT_EMAIL = "steps@marketplace-workshop.invalid"


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
            tree = branch_tree(src, steps, index, variant)
            tree_id = write_git_tree(repo, tree, tree.mode)
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
