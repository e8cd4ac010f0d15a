"""Build, check and verify the workshop's step branches.

steps/README.md describes how a branch's tree is made from main; this package
is that description in code:

    python -m tools.steps build [--force] [--push REMOTE] [--from REF]
        create or refresh every step branch in this clone (./run.sh steps)
    python -m tools.steps check [PYTEST ARGS]
        on a step branch: which exercises are done, which are left (./run.sh check)
    python -m tools.steps verify [--jobs N] [--from REF]
        for CI: every -solved branch passes, every -base branch fails exactly
        its exercise tests

Modules: trees (files, and main's files as the source), course (step.toml),
markers (exercise regions), pieces (Python files by top-level piece: patches,
edits, code taken from main), layers (a branch's tree, each step laid once),
gitplumbing, build, check, verify, cli, includes (pages include the
branches' code; tools/mkdocs_hooks.py runs it when the site is built), and
spoilers (how much of its solution a -base branch spells out). Only
the standard library is needed, except pytest for check and verify.
"""

from .build import BOT_EMAIL, TRAILER
from .course import (
    BRANCH_STEP_FILE,
    FINAL_STEP,
    STEP_FILE,
    Exercise,
    Step,
    branch_names,
    find_branch,
    load_steps,
    step_toml,
    toml_string,
)
from .gitplumbing import StepsError
from .layers import branch_tree, build_tree, materialize, step_tree
from .trees import ROOT, Source, Tree, resolve_source, write_tree_to

__all__ = [
    "BOT_EMAIL",
    "BRANCH_STEP_FILE",
    "FINAL_STEP",
    "ROOT",
    "STEP_FILE",
    "TRAILER",
    "Exercise",
    "Source",
    "Step",
    "StepsError",
    "Tree",
    "branch_names",
    "branch_tree",
    "build_tree",
    "find_branch",
    "load_steps",
    "materialize",
    "resolve_source",
    "step_toml",
    "step_tree",
    "toml_string",
    "write_tree_to",
]
