"""verify: CI's proof that every -solved branch passes and every -base
branch fails exactly its exercise tests."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .check import Outcomes
from .course import Step, load_steps
from .layers import branch_tree
from .trees import Tree, resolve_source, write_tree_to


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
        # The branch's own copy of this package runs its tests (tools/ is
        # common to every branch), from the branch's root.
        command = [
            sys.executable,
            "-m",
            "tools.steps",
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
            tree = branch_tree(src, steps, index, variant)
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
