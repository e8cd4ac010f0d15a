"""Laying a branch's tree (steps/README.md, "How a branch's tree is made")."""

from __future__ import annotations

from pathlib import Path

from . import markers, pieces
from .course import (
    BRANCH_STEP_FILE,
    FINAL_STEP,
    STEP_FILE,
    Step,
    find_branch,
    load_steps,
    step_toml,
)
from .gitplumbing import StepsError
from .offers import branch_offers
from .trees import Source, Tree, resolve_source, write_tree_to

# Main's folders that are not common to every branch (rule 1).
NOT_COMMON = ("marketsvc/", "tests/", "steps/", "bench/", ".ci/")
SERVICE = "marketsvc/"


def build_tree(branch: str, source: Source | str | Path | None = None) -> Tree:
    """The full file tree of a step branch: path -> content (a Tree, a dict)."""
    src = resolve_source(source)
    steps = load_steps(src)
    index, variant = find_branch(steps, branch)
    return branch_tree(src, steps, index, variant)


def branch_tree(src: Source, steps: list[Step], index: int, variant: str) -> Tree:
    """A branch's tree with its .step.toml."""
    tree = step_tree(src, steps, index, variant)
    offered = branch_offers(tree, bool(steps[index].exercises))
    tree.put(BRANCH_STEP_FILE, step_toml(steps, index, variant, offered).encode())
    return tree


def materialize(branch: str, dest: Path, source: Source | str | Path | None = None) -> Tree:
    """Write a branch's tree into dest (which must be empty or absent)."""
    tree = build_tree(branch, source)
    write_tree_to(tree, Path(dest))
    return tree


def common_files(src: Source) -> Tree:
    """Rule 1: main's files outside marketsvc/, tests/, steps/, bench/, .ci/."""
    common = Tree()
    for path in src.files:
        if not path.startswith(NOT_COMMON):
            common.copy_from(src.files, path)
    return common


def step_tree(
    src: Source, steps: list[Step], index: int, variant: str, regions_as: str | None = None
) -> Tree:
    """A step's tree without its .step.toml. Each one is laid once per source:
    the next step and every later one start from the same result.

    regions_as="solved" resolves this step's exercise regions as -solved does
    whatever the variant: the tests use it to show that -base differs from
    -solved in marked regions only. regions_as="only:NAME" solves exercise
    NAME's regions alone (./run.sh solution NAME shows what that changes).
    """
    key = ("tree", index, variant, regions_as)
    if key not in src.built:
        src.built[key] = lay_step(src, steps, index, variant, regions_as or variant)
    return src.built[key].clone()


def lay_step(src: Source, steps: list[Step], index: int, variant: str, regions_as: str) -> Tree:
    step = steps[index]
    tree = common_files(src)
    previous = None
    if index > 0:
        previous = step_tree(src, steps, index - 1, steps[index - 1].finished)
        # Rule 2: the previous step's own files; common files stay main's.
        for path in previous:
            if path not in tree:
                tree.copy_from(previous, path)
    final = step.number == FINAL_STEP
    if final:
        # Rule 4: the final step is laid on main's service, not on a copy of it.
        replace_service(tree, src.files)
    # Rule 3: the step's folder, resolved for this variant, then its removals.
    for path in src.files.under(f"{step.folder}/"):
        relative = path.removeprefix(f"{step.folder}/")
        if relative != STEP_FILE:
            lay_file(tree, src, step, variant, path, relative, regions_as, previous)
    remove_paths(tree, step.removed(variant), f"{step.folder}/{STEP_FILE}")
    if final and regions_as == "solved":
        check_service_is_mains(tree, src, step)
    return tree


def lay_file(
    tree: Tree,
    src: Source,
    step: Step,
    variant: str,
    path: str,
    relative: str,
    regions_as: str,
    previous: Tree | None = None,
) -> None:
    data = src.files[path]
    executable = path in src.files.executable
    where = f"{path} (for {step.branch_name(variant)})"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        tree.put(relative, data, executable)  # not text: copied as it is
        return
    text = markers.resolve(text, regions_as, where, step.exercise_names)
    if relative.endswith(".py") and pieces.has_directives(text):
        text = python_file(tree, src, text, where, relative, previous)
    tree.put(relative, text.encode("utf-8"), executable)


def python_file(
    tree: Tree, src: Source, text: str, where: str, relative: str, previous: Tree | None = None
) -> str:
    """A .py file with directives: its `main` and `previous` pieces filled
    in, and a patch laid on the file below it (the previous step's, or main's).
    `previous` is the previous step's finished tree: the final step, laid on
    main's service, takes earlier versions of main's pieces from there."""
    kind = pieces.patch_kind(text)
    header = {"previous": pieces.PATCH_HEADER, "main": pieces.MAIN_PATCH_HEADER}.get(kind, "")
    main = main_module(src, relative)
    module = pieces.split(text.removeprefix(header), where)
    sources = {
        "main": lambda path: main_module(src, path),
        "previous": lambda path: module_at(previous, path, f"{path} before {where}"),
    }
    module = pieces.expand(module, sources, where, relative)
    if kind is None:
        if stray := [p for p in module.pieces if p.verb not in (None, *pieces.OWNERS)]:
            raise StepsError(
                f"{where}: `# steps: {stray[0].verb}` works in a patch only"
                " (first line `# steps: patch` or `# steps: patch main`)"
            )
        return pieces.with_own_leads(module).text
    if kind == "main":
        if main is None:
            raise StepsError(f"{where}: `# steps: patch main`, but main has no {relative}")
        below = main
    elif relative in tree:
        below = module_at(tree, relative, f"{relative} below {where}")
    else:
        raise StepsError(f"{where}: a patch, but the previous step has no {relative} to patch")
    return pieces.apply_patch(below, module, where).text


def module_at(files: Tree | None, relative: str, where: str) -> pieces.Module | None:
    """The file at that path in pieces (main's, the previous step's, the one
    below a patch); None when there is no such file."""
    if files is None or relative not in files:
        return None
    return pieces.split(files[relative].decode("utf-8"), where)


def main_module(src: Source, relative: str) -> pieces.Module | None:
    """Main's file at that path, in pieces (read once per source)."""
    key = ("main", relative)
    if key not in src.built:
        src.built[key] = module_at(src.files, relative, f"main's {relative}")
    return src.built[key]


def replace_service(tree: Tree, main: Tree) -> None:
    for path in tree.under(SERVICE):
        tree.drop(path)
    for path in main.under(SERVICE):
        tree.copy_from(main, path)


def check_service_is_mains(tree: Tree, src: Source, step: Step) -> None:
    ours = {path: tree[path] for path in tree.under(SERVICE)}
    mains = {path: src.files[path] for path in src.files.under(SERVICE)}
    if ours != mains:
        differ = sorted(p for p in ours.keys() | mains.keys() if ours.get(p) != mains.get(p))
        raise StepsError(
            f"{step.folder}/{differ[0]}: the final solved {SERVICE} is main's; in the step's"
            " folder, mark what -base does differently as an exercise region whose"
            " solution part is empty"
        )


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
