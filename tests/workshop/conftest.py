"""Fixtures for the step machinery's tests: real git repositories in temp folders.

The tests never touch this checkout's git state. They copy its working tree
(what git would commit, step folders not yet committed included) into a
fresh repository, commit it as main, and work on clones of that.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools import steps

ROOT = Path(__file__).resolve().parents[2]

# Commits the tests make themselves (main's snapshot, an attendee's work).
PERSON = {
    "GIT_AUTHOR_NAME": "Ada Attendee",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Attendee",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
}


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **PERSON},
    )
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout.strip()


def run_steps(repo: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run repo's tools/steps (python -m tools.steps) with this Python, from repo."""
    command = [sys.executable, "-m", "tools.steps", *args]
    return subprocess.run(
        command,
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **(env or {})},
    )


def commit_as_main(tree: steps.Tree, dest: Path) -> Path:
    """A new repository whose main branch holds exactly tree."""
    steps.write_tree_to(tree, dest)
    git(dest, "init", "--quiet", "--initial-branch=main")
    git(dest, "add", "--all")
    git(dest, "commit", "--quiet", "--message=main")
    return dest


def clone(origin: Path, dest: Path, *args: str) -> Path:
    git(origin.parent, "clone", "--quiet", *args, str(origin), str(dest))
    return dest


@pytest.fixture(scope="session")
def snapshot(tmp_path_factory) -> Path:
    """This checkout's working tree, committed as main of a fresh repository."""
    tree = steps.Source.from_worktree(ROOT).files
    return commit_as_main(tree, tmp_path_factory.mktemp("snapshot") / "repo")


@pytest.fixture
def attendee(snapshot: Path, tmp_path: Path) -> Path:
    """A fresh clone of the snapshot, as an attendee has it after git clone."""
    return clone(snapshot, tmp_path / "clone")


@pytest.fixture(scope="session")
def built(snapshot: Path, tmp_path_factory) -> Path:
    """A clone with every step branch built; tests only read it."""
    repo = clone(snapshot, tmp_path_factory.mktemp("built") / "clone")
    result = run_steps(repo, "build")
    assert result.returncode == 0, f"build failed:\n{result.stdout}{result.stderr}"
    return repo
