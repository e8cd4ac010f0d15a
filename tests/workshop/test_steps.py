"""Tests of tools/steps: building, checking and verifying the step branches.

The first part runs against the real steps/ folder (as the working tree has
it); the second uses a small made-up course to pin the layering rules and the
verdicts down, independent of what the real steps contain.
"""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tools import steps
from tools.steps import markers

from .conftest import ROOT, clone, commit_as_main, git, run_steps

COURSE = [
    "step-1-getting-started",
    "step-2-sqlalchemy-base",
    "step-2-sqlalchemy-solved",
    "step-3-orms-base",
    "step-3-orms-solved",
    "step-4-optimisations-base",
    "step-4-optimisations-solved",
    "step-5-asyncio-intro",
    "step-6-asyncio-sqlalchemy-base",
    "step-6-asyncio-sqlalchemy-solved",
    "step-7-asyncio-orms-base",
    "step-7-asyncio-orms-solved",
    "step-8-streaming-base",
    "step-8-streaming-solved",
    "step-9-concurrent-sessions-base",
    "step-9-concurrent-sessions-solved",
    "step-10-production-base",
    "step-10-production-solved",
]


def step_branches(repo: Path) -> dict[str, str]:
    """branch -> commit, for every step-* branch of repo."""
    listing = git(repo, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads/")
    pairs = (line.split() for line in listing.splitlines())
    return {name: commit for name, commit in pairs if name.startswith("step-")}


def parents(repo: Path, commit: str) -> list[str]:
    return git(repo, "show", "-s", "--format=%P", commit).split()


# --------------------------------------------------------------------------
# The real course
# --------------------------------------------------------------------------


def test_the_branches_are_the_courses():
    assert steps.branch_names() == COURSE


def test_build_makes_one_linear_commit_per_branch(built: Path, snapshot: Path):
    names = steps.branch_names(snapshot)
    branches = step_branches(built)
    assert sorted(branches) == sorted(names)
    parent = git(built, "rev-parse", "main")
    for name in names:
        assert parents(built, branches[name]) == [parent], f"{name} is not on the previous branch"
        parent = branches[name]


def test_commits_name_their_step_and_the_tool(built: Path):
    message = git(built, "show", "-s", "--format=%B", "step-2-sqlalchemy-base")
    assert message.startswith("Step 2 (base): ")
    assert steps.TRAILER in message
    assert git(built, "show", "-s", "--format=%s", "step-1-getting-started").startswith("Step 1: ")


def test_build_twice_changes_nothing(attendee: Path):
    first = run_steps(attendee, "build")
    assert first.returncode == 0, first.stderr
    before = step_branches(attendee)
    second = run_steps(attendee, "build")
    assert second.returncode == 0, second.stderr
    assert step_branches(attendee) == before
    statuses = {line.split()[0]: line.split()[1] for line in second.stdout.splitlines()[:-1]}
    assert statuses == dict.fromkeys(steps.branch_names(attendee), "unchanged")


def test_build_gives_the_same_commits_in_every_clone(built: Path, attendee: Path):
    assert run_steps(attendee, "build").returncode == 0
    assert step_branches(attendee) == step_branches(built)


def test_build_refuses_a_dirty_tree_unless_forced(attendee: Path):
    (attendee / "README.md").write_text("my notes\n")
    refused = run_steps(attendee, "build")
    assert refused.returncode != 0
    assert "uncommitted changes" in refused.stderr
    assert step_branches(attendee) == {}

    forced = run_steps(attendee, "build", "--force")
    assert forced.returncode == 0, forced.stderr
    assert sorted(step_branches(attendee)) == sorted(steps.branch_names(attendee))
    assert (attendee / "README.md").read_text() == "my notes\n"


def test_build_refuses_to_drop_an_attendees_commit_unless_forced(attendee: Path):
    assert run_steps(attendee, "build").returncode == 0
    branch = steps.branch_names(attendee)[1]
    git(attendee, "checkout", "--quiet", branch)
    (attendee / "answer.py").write_text("my answer\n")
    git(attendee, "add", "answer.py")
    git(attendee, "commit", "--quiet", "--message=my work")
    before = step_branches(attendee)

    refused = run_steps(attendee, "build")
    assert refused.returncode != 0
    assert branch in refused.stderr
    assert step_branches(attendee) == before

    forced = run_steps(attendee, "build", "--force")
    assert forced.returncode == 0, forced.stderr
    assert git(attendee, "rev-parse", "HEAD") == step_branches(attendee)[branch]
    assert git(attendee, "status", "--porcelain") == ""
    assert not (attendee / "answer.py").exists()  # still in git reflog


def test_build_moves_the_checked_out_step_branch_with_the_files(
    attendee: Path, snapshot: Path, tmp_path: Path
):
    assert run_steps(attendee, "build").returncode == 0
    branch = steps.branch_names(attendee)[-1]
    git(attendee, "checkout", "--quiet", branch)
    # An instructor fixes main; the attendee fetches it without leaving the step.
    instructor = clone(snapshot, tmp_path / "instructor")
    (instructor / "errata.md").write_text("fixed\n")
    git(instructor, "add", "errata.md")
    git(instructor, "commit", "--quiet", "--message=errata")
    git(attendee, "fetch", "--quiet", str(instructor), "main:main")

    result = run_steps(attendee, "build")
    assert result.returncode == 0, result.stderr
    assert re.search(rf"^{branch} +updated$", result.stdout, re.MULTILINE)
    assert git(attendee, "symbolic-ref", "--short", "HEAD") == branch
    assert git(attendee, "rev-parse", "HEAD") == step_branches(attendee)[branch]
    assert git(attendee, "status", "--porcelain") == ""
    assert (attendee / "errata.md").read_text() == "fixed\n"


def test_build_reads_origin_main_when_there_is_no_local_main(attendee: Path):
    git(attendee, "checkout", "--quiet", "--detach")
    git(attendee, "branch", "--delete", "--force", "main")
    result = run_steps(attendee, "build")
    assert result.returncode == 0, result.stderr
    first = step_branches(attendee)["step-1-getting-started"]
    assert parents(attendee, first) == [git(attendee, "rev-parse", "origin/main")]


def test_build_pushes_every_branch(attendee: Path, tmp_path: Path):
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", str(remote))
    git(attendee, "remote", "add", "course", str(remote))
    result = run_steps(attendee, "build", "--push", "course")
    assert result.returncode == 0, result.stderr
    assert step_branches(remote) == step_branches(attendee)


def test_twin_diffs_show_only_the_lesson(built: Path, snapshot: Path):
    """-base differs from -solved in files the step's folder holds, files its
    step.toml removes on one side, and (step 10) main's service only."""
    main = steps.Source.from_worktree(snapshot).files
    strays = []
    for step in steps.load_steps(snapshot):
        if not step.twin:
            continue
        base, solved = step.branches
        held = {path.removeprefix(f"{step.folder}/") for path in main.under(f"{step.folder}/")}
        removed = [p.rstrip("/") for p in step.remove["base"] + step.remove["solved"]]
        for path in git(built, "diff", "--name-only", base, solved).splitlines():
            expected = (
                path in held | {".step.toml"}
                or any(path == r or path.startswith(f"{r}/") for r in removed)
                or (step.number == steps.FINAL_STEP and path.startswith("marketsvc/"))
            )
            if not expected:
                strays.append(f"{base}..{solved}: {path} is not in {step.folder}/")
    assert strays == []


def test_base_differs_from_solved_in_marked_regions_only(snapshot: Path):
    """Resolving every region as -solved does turns -base into -solved, apart
    from the files step.toml removes on one side."""
    src = steps.Source.from_worktree(snapshot)
    course = steps.load_steps(src)
    for index, step in enumerate(course):
        if not step.twin:
            continue
        unmarked = steps.step_tree(src, course, index, "base", regions_as="solved")
        solved = steps.step_tree(src, course, index, "solved")
        one_sided = step.remove["base"] + step.remove["solved"]
        for tree in (unmarked, solved):
            for path in list(tree):
                if any(path == r or path.startswith(r.rstrip("/") + "/") for r in one_sided):
                    tree.drop(path)
        differ = sorted(
            p for p in unmarked.keys() | solved.keys() if unmarked.get(p) != solved.get(p)
        )
        assert differ == [], f"{step.folder}: -base differs outside marked regions in {differ}"


def test_every_marker_names_an_exercise_of_its_step(snapshot: Path):
    src = steps.Source.from_worktree(snapshot)
    for step in steps.load_steps(src):
        marked = set()
        for path in src.files.under(f"{step.folder}/"):
            text = src.files[path].decode("utf-8")
            found = markers.regions(text, path)
            assert step.twin or not found, f"{path}: markers in a step without twins"
            marked |= {region.exercise for region in found}
        assert marked <= step.exercise_names, f"{step.folder}: {marked - step.exercise_names}"
        assert marked == step.exercise_names, (
            f"{step.folder}: exercises without a marked region: {step.exercise_names - marked}"
        )


def test_no_marker_or_directive_reaches_a_branch(snapshot: Path):
    src = steps.Source.from_worktree(snapshot)
    left = []
    for name in steps.branch_names(src):
        tree = steps.build_tree(name, src)
        for path, data in tree.items():
            if path.startswith(("tools/", "docs/")) or not path.endswith(".py"):
                continue  # common files: main's own, which explain the markers
            text = data.decode("utf-8")
            if markers.ANY_MARKER.search(text) or re.search(r"^# steps: ", text, re.M):
                left.append(f"{name}:{path}")
    assert left == []


def test_every_branch_passes_ruff(snapshot: Path, tmp_path: Path):
    """What `./run.sh test` and `./run.sh fmt` hold an attendee's branch to:
    a piece the builder leaves out must not leave the code around it
    unformatted (an import group without its blank line, say)."""
    src = steps.Source.from_worktree(snapshot)
    failed = []
    for name in steps.branch_names(src):
        tree = steps.materialize(name, tmp_path / name, src)
        assert tree
        for check in (["check", "--quiet"], ["format", "--check", "--quiet"]):
            result = subprocess.run(
                [sys.executable, "-m", "ruff", *check, "."],
                cwd=tmp_path / name,
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                failed.append(f"{name}: ruff {check[0]}\n{result.stdout}{result.stderr}")
    assert failed == [], "\n".join(failed)


def test_a_fix_in_main_reaches_every_branch_that_shares_the_code(snapshot: Path, tmp_path: Path):
    """The instructor's case: one line of unknown_order_ids changed on main shows
    on every branch whose db_accessor.py has main's unknown_order_ids."""
    src = steps.Source.from_worktree(snapshot)
    path = "marketsvc/db_accessor.py"
    before = {name: steps.build_tree(name, src).get(path, b"") for name in steps.branch_names(src)}
    line = b"    wanted = sorted(set(order_ids))\n"
    fixed_line = b"    wanted = sorted(frozenset(order_ids))\n"
    assert line in src.files[path], "main's unknown_order_ids changed; pick another line"
    sharing = [name for name, data in before.items() if line in data.splitlines(keepends=True)]
    assert len(sharing) >= 8, sharing  # steps 6 to 10, base and solved

    fixed = steps.Tree(src.files, src.files.executable)
    fixed.put(path, src.files[path].replace(line, fixed_line))
    changed = steps.Source(fixed, src.repo)
    for name in steps.branch_names(src):
        after = steps.build_tree(name, changed).get(path, b"")
        if name in sharing:
            assert fixed_line in after.splitlines(keepends=True), name
        else:
            assert after == before[name], name


def test_the_last_solved_service_is_mains(built: Path, snapshot: Path):
    last = steps.load_steps(snapshot)[-1]
    assert last.number == steps.FINAL_STEP, "the final step's folder is missing"
    tree = steps.build_tree(last.branch_name("solved"), snapshot)
    main = steps.Source.from_worktree(snapshot).files
    assert {p: tree[p] for p in tree.under("marketsvc/")} == {
        p: main[p] for p in main.under("marketsvc/")
    }
    assert git(built, "diff", "--stat", "main", last.branch_name("solved"), "--", "marketsvc") == ""


def test_every_branch_has_run_sh_executable_and_its_step_toml(built: Path, snapshot: Path):
    for name in steps.branch_names(snapshot):
        assert git(built, "ls-tree", name, "run.sh").startswith("100755 "), name
        info = tomllib.loads(git(built, "show", f"{name}:.step.toml"))
        assert info["branch"] == name
        assert info["variant"] in name or info["variant"] == "single"
        for path in ("tests/workshop/test_steps.py", "steps/README.md"):
            assert git(built, "ls-tree", name, path) == "", f"{path} is on {name}"


def test_build_tree_from_a_ref_matches_the_working_tree(snapshot: Path):
    for name in steps.branch_names(snapshot):
        from_disk = steps.build_tree(name, snapshot)
        from_ref = steps.build_tree(name, steps.Source.from_ref(snapshot, "main"))
        assert from_disk == from_ref and from_disk.executable == from_ref.executable, name


def test_check_on_main_says_how_to_get_the_steps(attendee: Path):
    result = run_steps(attendee, "check")
    assert result.returncode == 2
    assert "./run.sh steps" in result.stdout
    assert "git checkout step-1-getting-started" in result.stdout


@pytest.mark.timeout(900)
def test_check_names_the_open_exercises_and_passes_when_solved(
    built: Path, snapshot: Path, tmp_path: Path
):
    step = next(step for step in steps.load_steps(snapshot) if step.twin and step.exercises)
    base, solved = step.branches

    on_base = run_steps(clone(built, tmp_path / "base", "--branch", base), "check")
    assert on_base.returncode != 0, on_base.stdout
    unwrapped = " ".join(on_base.stdout.split())
    for exercise in step.exercises:
        assert f"not done {exercise.name}" in unwrapped
        assert exercise.hints[0] not in unwrapped

    on_solved = run_steps(clone(built, tmp_path / "solved", "--branch", solved), "check")
    assert on_solved.returncode == 0, on_solved.stdout + on_solved.stderr
    for exercise in step.exercises:
        assert f"done      {exercise.name}" in on_solved.stdout


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_verify_every_branch(snapshot: Path):
    result = run_steps(snapshot, "verify", "--jobs", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    for name in steps.branch_names(snapshot):
        assert any(line.startswith(f"{name} ") for line in result.stdout.splitlines()), name


# --------------------------------------------------------------------------
# A made-up course: the rules, whatever the real steps hold
# --------------------------------------------------------------------------

PYPROJECT = """\
[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = "--strict-markers"
markers = ["exercise(name): a step's exercise"]
"""

# The made-up course's tests need no pytest plugin; not loading the installed
# ones saves seconds per test run.
NO_PLUGINS = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}

TRICKY_TITLE = 'Start: "quotes", back\\slash, tab\t, é, 🚀 and \x7f'


def toml(text: str) -> bytes:
    return text.encode()


def fake_course() -> steps.Tree:
    """Main of a ten-step course: 1 single, 2 twin, 3-9 single, 10 twin."""
    files = {
        ".gitignore": b"__pycache__/\n.pytest_cache/\n",
        "README.md": b"the course\n",
        "pyproject.toml": PYPROJECT.encode(),
        **{
            f"tools/steps/{module.name}": module.read_bytes()
            for module in (ROOT / "tools" / "steps").glob("*.py")
        },
        "marketsvc/__init__.py": b"VALUE = 'final'\n",
        "marketsvc/extra.py": b"def extra():\n    return 'final'\n",
        "tests/test_main.py": b"def test_main():\n    pass\n",
        "bench/bench.py": b"print('bench')\n",
        "steps/README.md": b"how steps work\n",
        "steps/01-start/step.toml": toml(
            f'title = {steps.toml_string(TRICKY_TITLE)}\nbranch = "step-1-start"\n'
            'twin = false\npage = "docs/01.md"\n'
        ),
        "steps/01-start/marketsvc/__init__.py": b"VALUE = 1\n",
        "steps/01-start/notes.txt": b"scratch\n",
        "steps/01-start/README.md": b"step one's own readme\n",
        "steps/01-start/tests/test_value.py": (
            b"from marketsvc import VALUE\n\n\ndef test_value():\n    assert VALUE\n"
        ),
        "steps/02-extra/step.toml": toml(
            'title = "Extra"\nbranch = "step-2-extra"\ntwin = true\npage = "docs/02.md"\n'
            'remove = ["notes.txt"]\n'
            '[[exercise]]\nname = "extra"\nsummary = "write extra()"\n'
            'hints = ["return it", "a string", "return \'extra\'"]\n'
            '[solved]\nremove = ["tests/scaffold"]\n'
        ),
        "steps/02-extra/marketsvc/extra.py": (
            b"def extra():\n    # >>> exercise: extra\n    return 'extra'\n"
            b"    # --- stub\n    raise NotImplementedError\n    # <<< exercise: extra\n"
        ),
        "steps/02-extra/tests/scaffold/a.txt": b"scaffolding\n",
        "steps/02-extra/tests/test_extra.py": (
            b"import pytest\n\nfrom marketsvc.extra import extra\n\n\n"
            b"@pytest.mark.exercise('extra')\ndef test_extra():\n    assert extra() == 'extra'\n"
        ),
        "steps/10-final/step.toml": toml(
            'title = "Final"\nbranch = "step-10-final"\ntwin = true\npage = "docs/10.md"\n'
            '[[exercise]]\nname = "final"\nsummary = "finish"\nhints = ["one", "two", "three"]\n'
            '[base]\nremove = ["tests/test_more.py"]\n'
            '[solved]\nremove = ["tests/test_extra.py"]\n'
        ),
        # -base: main's service with extra() as step 2 left it
        "steps/10-final/marketsvc/extra.py": (
            b"# steps: patch\n# >>> exercise: final\n# --- stub\n"
            b"# steps: main extra\n#-    return 'final'\n#+    return 'extra'\n"
            b"# <<< exercise: final\n"
        ),
        "steps/10-final/tests/test_final.py": (
            b"import pytest\n\nfrom marketsvc.extra import extra\n\n\n"
            b"@pytest.mark.exercise('final')\ndef test_final():\n    assert extra() == 'final'\n"
        ),
        "steps/10-final/tests/test_more.py": b"def test_more():\n    pass\n",
    }
    for number in range(3, 10):
        folder = f"steps/{number:02d}-middle-{number}"
        files[f"{folder}/step.toml"] = toml(
            f'title = "Middle {number}"\nbranch = "step-{number}-middle-{number}"\n'
            f'twin = false\npage = "docs/{number:02d}.md"\n'
        )
        files[f"{folder}/middle/{number}.txt"] = str(number).encode()
    return steps.Tree(files)


FAKE_BRANCHES = [
    "step-1-start",
    "step-2-extra-base",
    "step-2-extra-solved",
    *(f"step-{n}-middle-{n}" for n in range(3, 10)),
    "step-10-final-base",
    "step-10-final-solved",
]


@pytest.fixture
def fake() -> steps.Source:
    main = fake_course()
    main.put("run.sh", b"#!/bin/sh\necho run\n", executable=True)
    return steps.Source(main, Path("unused"))


def test_fake_course_branches(fake: steps.Source):
    assert steps.branch_names(fake) == FAKE_BRANCHES


def test_common_files_come_from_main_and_skip_the_service_folders(fake: steps.Source):
    two = steps.build_tree("step-2-extra-base", fake)
    assert two["README.md"] == b"the course\n"  # step 1's own README does not carry on
    assert "run.sh" in two.executable
    assert not any(p.startswith(("tests/test_main", "bench/", "steps/")) for p in two)
    one = steps.build_tree("step-1-start", fake)
    assert one["README.md"] == b"step one's own readme\n"
    assert "step.toml" not in one and "notes.txt" in one


def test_overlays_and_removals_are_laid_in_order(fake: steps.Source):
    base = steps.build_tree("step-2-extra-base", fake)
    solved = steps.build_tree("step-2-extra-solved", fake)
    assert "notes.txt" not in base and "tests/scaffold/a.txt" in base
    assert b"NotImplementedError" in base["marketsvc/extra.py"]
    assert solved["marketsvc/extra.py"] == b"def extra():\n    return 'extra'\n"
    assert "tests/scaffold/a.txt" not in solved
    assert solved["marketsvc/__init__.py"] == b"VALUE = 1\n"  # carried from step 1
    three = steps.build_tree("step-3-middle-3", fake)
    assert three["marketsvc/extra.py"] == solved["marketsvc/extra.py"]
    assert "middle/3.txt" in three and "middle/9.txt" in steps.build_tree(
        "step-10-final-base", fake
    )


def test_the_final_solved_tree_takes_mains_service(fake: steps.Source):
    solved = steps.build_tree("step-10-final-solved", fake)
    assert {p: solved[p] for p in solved.under("marketsvc/")} == {
        "marketsvc/__init__.py": b"VALUE = 'final'\n",
        "marketsvc/extra.py": b"def extra():\n    return 'final'\n",
    }
    assert "tests/test_more.py" in solved


def test_step_toml_describes_the_branch(fake: steps.Source):
    info = tomllib.loads(steps.build_tree("step-1-start", fake)[".step.toml"].decode())
    assert info["title"] == TRICKY_TITLE
    assert (info["variant"], info["next"]) == ("single", "step-2-extra-base")
    info = tomllib.loads(steps.build_tree("step-2-extra-base", fake)[".step.toml"].decode())
    assert info["solution"] == "step-2-extra-solved"
    assert info["exercise"] == [
        {
            "name": "extra",
            "summary": "write extra()",
            "hints": ["return it", "a string", "return 'extra'"],
        }
    ]
    assert (info["exercises_before"], info["exercises_in_course"]) == (0, 2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop("steps/10-final/step.toml"), "has no step.toml"),
        (lambda t: t.put("steps/12-late/step.toml", b""), "expected 11"),
        (lambda t: t.put("steps/02-extra/base/x.py", b""), "a step holds one tree"),
        (lambda t: t.put("steps/10-final/marketsvc/x.py", b""), "marketsvc/x.py: the final solved"),
        # markers: each names an exercise of its step, opens, has one stub and closes
        (
            lambda t: t.put("steps/02-extra/a.py", b"# >>> exercise: typo\n# <<< exercise: typo\n"),
            r"steps/02-extra/a.py \(for step-2-extra-base\):1: exercise 'typo' is not in",
        ),
        (
            lambda t: t.put("steps/02-extra/a.py", b"x = 1\n# >>> exercise: extra\n"),
            r"a.py \(for step-2-extra-base\):2: exercise 'extra' is never closed",
        ),
        (
            lambda t: t.put("steps/02-extra/a.py", b"# --- stub\n"),
            r"a.py \(for step-2-extra-base\):1: `# --- stub` outside an exercise region",
        ),
        (
            lambda t: t.put("steps/02-extra/a.py", b"# >>> exercise: extra\n# <<< exercise: ex\n"),
            r"a.py \(for step-2-extra-base\):2: closes exercise 'ex', but 'extra' is open",
        ),
        (
            lambda t: t.put("steps/02-extra/a.py", b"# >>> exercise extra\n"),
            "not a marker this tool knows",
        ),
        (
            lambda t: t.put("steps/01-start/a.py", b"# >>> exercise: x\n# <<< exercise: x\n"),
            "exercise markers in a step without twins",
        ),
        # pieces: what a directive names must be there
        (
            lambda t: t.put(
                "steps/10-final/marketsvc/extra.py", b"# steps: patch\n# steps: main nope\n"
            ),
            r"steps/10-final/marketsvc/extra.py \(for step-10-final-base\): `# steps: main nope`,"
            r" but main's marketsvc/extra.py has no piece 'nope'",
        ),
        (
            lambda t: t.put("steps/03-middle-3/tests/a.py", b"# steps: main tests/nope.py::x\n"),
            r"`# steps: main tests/nope.py::x`, but main's tests/nope.py is not a file,"
            r" so it has no piece 'x'",
        ),
        (
            lambda t: t.put(
                "steps/10-final/marketsvc/extra.py",
                b"# steps: patch\n# steps: main extra\n#-    return 'extra'\n",
            ),
            r"`# steps: main extra`: the piece no longer has these lines, in order:\n"
            r"        return 'extra'",
        ),
        (
            lambda t: t.put(
                "steps/10-final/marketsvc/extra.py", b"# steps: patch\n# steps: previous nope\n"
            ),
            r"`# steps: previous nope`, but the previous step's marketsvc/extra.py has no piece"
            r" 'nope'",
        ),
        (
            lambda t: t.put(
                "steps/10-final/marketsvc/extra.py", b"# steps: patch\n# steps: delete y\n"
            ),
            r"no piece 'y' in the file below; it has extra",
        ),
        (
            lambda t: t.put("steps/02-extra/marketsvc/new.py", b"# steps: patch\nx = 1\n"),
            "a patch, but the previous step has no marketsvc/new.py to patch",
        ),
        (
            lambda t: t.put("steps/02-extra/marketsvc/b.py", b"# steps: delete x\n"),
            r"`# steps: delete` works in a patch only",
        ),
        (
            lambda t: t.put("steps/02-extra/marketsvc/b.py", b"# steps: main x\ndef f(:\n"),
            r"b.py \(for step-2-extra-base\):2: not valid Python",
        ),
        (
            lambda t: t.put("steps/02-extra/step.toml", b"x = 1\n" + t["steps/02-extra/step.toml"]),
            "unknown keys",
        ),
        (
            lambda t: t.put(
                "steps/02-extra/step.toml",
                t["steps/02-extra/step.toml"].replace(b"tests/scaffold", b"tests/nothing"),
            ),
            "cannot remove 'tests/nothing'",
        ),
    ],
)
def test_mistakes_in_steps_are_explained(fake: steps.Source, change, message):
    change(fake.files)
    with pytest.raises(steps.StepsError, match=message):
        for name in steps.branch_names(fake):
            steps.build_tree(name, fake)


def test_a_piece_can_come_from_another_file_of_main(fake: steps.Source):
    fake.files.put(
        "steps/03-middle-3/tests/test_again.py",
        b"import os\n\n\n# steps: main tests/test_main.py::test_main\n"
        b"#-    pass\n#+    assert os.sep\n",
    )
    three = steps.build_tree("step-3-middle-3", fake)
    assert three["tests/test_again.py"] == b"import os\n\n\ndef test_main():\n    assert os.sep\n"


def test_one_delete_can_name_several_pieces(fake: steps.Source):
    fake.files.put("marketsvc/many.py", b"import os\n\nA = 1\nB = 2\nprint(A, B)\nC = 3\n")
    fake.files.put(  # a key that holds a comma is read whole
        "steps/03-middle-3/marketsvc/many.py",
        b"# steps: patch main\n# steps: delete import os, A,C\n# steps: delete print(A, B)\n",
    )
    three = steps.build_tree("step-3-middle-3", fake)
    assert three["marketsvc/many.py"] == b"B = 2\n"


def test_added_lines_before_any_anchor_go_at_the_top_of_the_piece(fake: steps.Source):
    fake.files.put(
        "steps/03-middle-3/tests/test_value.py",
        b"# steps: patch\n# steps: edit test_value\n#+@pytest.mark.slow\n"
        b"#=def test_value():\n#+    # checked\n",
    )
    three = steps.build_tree("step-3-middle-3", fake)
    assert three["tests/test_value.py"] == (
        b"from marketsvc import VALUE\n\n\n@pytest.mark.slow\ndef test_value():\n"
        b"    # checked\n    assert VALUE\n"
    )


def test_a_piece_from_elsewhere_brings_its_blank_lines_unless_given_some(fake: steps.Source):
    fake.files.put("tests/helpers.py", b"import os\n\n\ndef helper():\n    return os.sep\n")
    fake.files.put(  # a whole file, and a patch that adds the piece
        "steps/03-middle-3/tests/again.py", b"import os\n# steps: main tests/helpers.py::helper\n"
    )
    fake.files.put(
        "steps/03-middle-3/marketsvc/__init__.py",
        b"# steps: patch\n# steps: after VALUE\n# steps: main tests/helpers.py::helper\n"
        b"\n# steps: main tests/helpers.py::import os\n",  # one blank line written: it stays
    )
    three = steps.build_tree("step-3-middle-3", fake)
    assert three["tests/again.py"] == fake.files["tests/helpers.py"]
    assert three["marketsvc/__init__.py"] == (
        b"VALUE = 1\n\n\ndef helper():\n    return os.sep\n\nimport os\n"
    )


def test_the_final_step_takes_a_piece_as_the_previous_step_left_it(fake: steps.Source):
    # Step 10 is laid on main's service; its -base wants extra() as step 2 wrote it.
    fake.files.put(
        "steps/10-final/marketsvc/extra.py",
        b"# steps: patch\n# >>> exercise: final\n# --- stub\n# steps: previous extra\n"
        b"#=def extra():\n#+    # as step 2 left it\n# <<< exercise: final\n",
    )
    base = steps.build_tree("step-10-final-base", fake)
    assert base["marketsvc/extra.py"] == (
        b"def extra():\n    # as step 2 left it\n    return 'extra'\n"
    )
    solved = steps.build_tree("step-10-final-solved", fake)
    assert solved["marketsvc/extra.py"] == fake.files["marketsvc/extra.py"]


def test_materialize_keeps_the_executable_bit(fake: steps.Source, tmp_path: Path):
    steps.materialize("step-1-start", tmp_path / "tree", fake)
    assert (tmp_path / "tree" / "run.sh").stat().st_mode & 0o111
    assert not (tmp_path / "tree" / "README.md").stat().st_mode & 0o111


def test_the_working_tree_source_is_what_git_would_commit(fake: steps.Source, tmp_path: Path):
    repo = commit_as_main(fake.files, tmp_path / "repo")
    (repo / "steps" / "01-start" / "new.txt").write_text("not committed yet\n")
    (repo / "__pycache__").mkdir()
    (repo / "__pycache__" / "x.pyc").write_bytes(b"ignored")
    tree = steps.build_tree("step-1-start", repo)
    assert tree["new.txt"] == b"not committed yet\n"
    assert "run.sh" in tree.executable
    assert not any("__pycache__" in path for path in tree)
    assert "new.txt" not in steps.build_tree("step-1-start", steps.Source.from_ref(repo, "main"))


@pytest.mark.timeout(900)
def test_verify_passes_a_sound_course_and_names_a_broken_exercise(
    fake: steps.Source, tmp_path: Path
):
    repo = commit_as_main(fake.files, tmp_path / "repo")
    good = run_steps(repo, "verify", env=NO_PLUGINS)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "12 of 12 branches as expected" in good.stdout

    # An exercise already solved on -base is no exercise.
    (repo / "steps/02-extra/marketsvc/extra.py").write_text("def extra():\n    return 'extra'\n")
    bad = run_steps(repo, "verify", "--jobs", "3", env=NO_PLUGINS)
    assert bad.returncode != 0
    assert "step-2-extra-base" in bad.stdout
    assert "exercise test passed on -base" in bad.stdout


def test_check_reports_exercise_by_exercise(fake: steps.Source, tmp_path: Path):
    repo = commit_as_main(fake.files, tmp_path / "repo")
    assert run_steps(repo, "build").returncode == 0

    on_base = clone(repo, tmp_path / "base", "--branch", "step-2-extra-base")
    base = run_steps(on_base, "check", env=NO_PLUGINS)
    assert base.returncode == 1
    assert "not done  extra: write extra()" in base.stdout
    assert "1 of 1 tests fail; extra: NotImplementedError" in base.stdout
    assert "return it" not in base.stdout  # hints only when asked
    assert "./run.sh hint" in base.stdout
    assert "step 2: 0 of 1 done; course: 0 of 2" in base.stdout

    on_solved = clone(repo, tmp_path / "solved", "--branch", "step-2-extra-solved")
    solved = run_steps(on_solved, "check", env=NO_PLUGINS)
    assert solved.returncode == 0, solved.stdout
    assert "done      extra" in solved.stdout
    assert "step 2: 1 of 1 done; course: 1 of 2" in solved.stdout
    assert "Next: git checkout step-3-middle-3" in solved.stdout
