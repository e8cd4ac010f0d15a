"""The exercise tests check what the pages say matters, and accept what they say works.

Each case takes a -solved branch's tree and changes its solution by a small
text substitution, then runs the step's tests on it with `tools.steps check`
(the outcome of every test, with its exercise marker). A wrong version, one
that attendees found passing the checks once, must fail: the exercise's
tests, or the lesson test that guards what it breaks, and no other test. A
valid alternative, one the page says works too, must pass them all.
"""

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools import steps

from .conftest import ROOT


@dataclass
class Case:
    branch: str
    path: str
    edits: list[tuple[str, str]]  # (old, new): old must be in the file once
    breaks: tuple[str, ...]  # the exercises (or lesson tests) it fails; (): a valid alternative
    tests: str = "tests/test_lesson.py"


RELATIONSHIPS = 'relationship(\n        back_populates="order", order_by="OrderItem.item_id"\n    )'
LINES_AND_ITEMS = "LINES_AND_ITEMS = selectinload(Order.items).joinedload(OrderItem.item)"
EAGER = ".options(selectinload(Order.items).selectinload(OrderItem.item))"
CLOSE = "        await uncancelled(conn.close())\n"
BATCHES = "        async for batch in result.partitions(batch_rows):\n"

CASES = {
    # Step 3: the page says back_populates and order_by both matter.
    "3 without order_by": Case(
        "step-3-orms-solved",
        "marketsvc/db/models.py",
        [(RELATIONSHIPS, 'relationship(back_populates="order")')],
        ("relationships",),
    ),
    "3 back_populates on one side only": Case(
        "step-3-orms-solved",
        "marketsvc/db/models.py",
        [('relationship(back_populates="items")', "relationship()")],
        ("relationships",),
    ),
    "3 backref instead of the pair": Case(
        "step-3-orms-solved",
        "marketsvc/db/models.py",
        [
            (RELATIONSHIPS, 'relationship(backref="order", order_by="OrderItem.item_id")'),
            ('    order: Mapped[Order] = relationship(back_populates="items")\n', ""),
        ],
        (),
    ),
    # Step 4: both functions need the options; any loader strategy will do.
    "4 get_orders_between left lazy": Case(
        "step-4-optimisations-solved",
        "marketsvc/db_accessor.py",
        [
            (
                "            .options(LINES_AND_ITEMS)\n            .where(Order.order_time",
                "            .where(Order.order_time",
            )
        ],
        ("n-plus-one",),
    ),
    "4 the lines loaded, their items lazy": Case(
        "step-4-optimisations-solved",
        "marketsvc/db_accessor.py",
        [(LINES_AND_ITEMS, "LINES_AND_ITEMS = selectinload(Order.items)")],
        ("n-plus-one",),
    ),
    "4 selectinload at both levels": Case(
        "step-4-optimisations-solved",
        "marketsvc/db_accessor.py",
        [
            (
                LINES_AND_ITEMS,
                "LINES_AND_ITEMS = selectinload(Order.items).selectinload(OrderItem.item)",
            )
        ],
        (),
    ),
    "4 joinedload at both levels, with unique()": Case(
        "step-4-optimisations-solved",
        "marketsvc/db_accessor.py",
        [
            (
                LINES_AND_ITEMS,
                "LINES_AND_ITEMS = joinedload(Order.items).joinedload(OrderItem.item)",
            ),
            ("session.scalars(statement).all()", "session.scalars(statement).unique().all()"),
            ("in session.scalars(statement)]", "in session.scalars(statement).unique()]"),
        ],
        (),
    ),
    # Step 7: "Both work": selectinload or joinedload for the items.
    "7 the items joined in": Case(
        "step-7-asyncio-orms-solved",
        "marketsvc/db_accessor.py",
        [
            (EAGER, ".options(selectinload(Order.items).joinedload(OrderItem.item))"),
            ("import selectinload\n", "import joinedload, selectinload\n"),
        ],
        (),
    ),
    "7 awaitable_attrs in a loop": Case(
        "step-7-asyncio-orms-solved",
        "marketsvc/db_accessor.py",
        [
            (EAGER, ""),
            (
                "    orders = (await session.scalars(statement)).all()\n",
                "    orders = (await session.scalars(statement)).all()\n"
                "    for order in orders:\n"
                "        for line in await order.awaitable_attrs.items:\n"
                "            await line.awaitable_attrs.item\n",
            ),
        ],
        ("eager-loading",),
    ),
    # Step 6: the close of a stream holds against a second cancellation.
    "6 a bare await conn.close()": Case(
        "step-6-asyncio-sqlalchemy-solved",
        "marketsvc/db_accessor.py",
        [(CLOSE, "        await conn.close()\n")],
        ("stream-query",),
    ),
    "6 an anyio shield around the close": Case(
        "step-6-asyncio-sqlalchemy-solved",
        "marketsvc/db_accessor.py",
        [(CLOSE, "        with anyio.CancelScope(shield=True):\n            await conn.close()\n")],
        ("stream-query",),
    ),
    # SQLAlchemy's AsyncConnection.__aexit__ runs the close in a task of its
    # own and waits for it, as uncancelled does.
    "6 async with engine.connect()": Case(
        "step-6-asyncio-sqlalchemy-solved",
        "marketsvc/db_accessor.py",
        [
            (
                "    conn = await get_engine().connect()\n    try:\n",
                "    async with get_engine().connect() as conn:\n",
            ),
            ("            yield batch\n    finally:\n", "            yield batch\n"),
            (CLOSE, ""),
        ],
        (),
    ),
    "6 fetchmany instead of partitions": Case(
        "step-6-asyncio-sqlalchemy-solved",
        "marketsvc/db_accessor.py",
        [(BATCHES, "        while batch := await result.fetchmany(batch_rows):\n")],
        (),
    ),
    # Step 6 teaches uncancelled; its lesson test guards the protection.
    "6 uncancelled as an anyio shield only": Case(
        "step-6-asyncio-sqlalchemy-solved",
        "marketsvc/db_accessor.py",
        [
            (
                "    call = asyncio.create_task(_to_the_end(awaitable))\n",
                "    with anyio.CancelScope(shield=True):\n        return await awaitable\n"
                "    call = asyncio.create_task(_to_the_end(awaitable))\n",
            )
        ],
        # stream_query's close goes through uncancelled too.
        ("test_asyncio_cancellation_does_not_cut_a_query_in_half", "stream-query"),
    ),
}


@pytest.fixture(scope="module")
def solved_tree():
    source = steps.Source.from_worktree(ROOT)
    return lambda branch: steps.build_tree(branch, source)


def changed(tree: steps.Tree, path: str, edits: list[tuple[str, str]]) -> steps.Tree:
    text = tree[path].decode("utf-8")
    for old, new in edits:
        assert text.count(old) == 1, f"{path} no longer has, once:\n{old}"
        text = text.replace(old, new)
    tree = tree.clone()
    tree.put(path, text.encode("utf-8"))
    return tree


def outcomes(tree: steps.Tree, where: Path, tests: str) -> dict[str, dict]:
    """nodeid -> {outcome, exercise, ...} of the tests, run in the tree."""
    steps.write_tree_to(tree, where / "tree")
    report = where / "outcomes.json"
    command = [sys.executable, "-m", "tools.steps", "check", "--root", str(where / "tree")]
    command += ["--json", str(report), "-p", "no:cacheprovider", "-q", tests]
    run = subprocess.run(command, cwd=where / "tree", capture_output=True, text=True, timeout=600)
    assert report.exists(), f"the test run crashed:\n{run.stdout}{run.stderr}"
    return json.loads(report.read_text())["tests"]


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", CASES)
def test_a_wrong_version_fails_and_a_valid_one_passes(name, solved_tree, tmp_path):
    case = CASES[name]
    tree = changed(solved_tree(case.branch), case.path, case.edits)
    tests = outcomes(tree, tmp_path, case.tests)
    failed = {nodeid: test for nodeid, test in tests.items() if test["outcome"] != "passed"}
    if not case.breaks:
        assert failed == {}, f"{name}: a valid alternative fails"
        return
    broken = {
        nodeid: {test["exercise"], nodeid.split("::")[-1].split("[")[0]} & set(case.breaks)
        for nodeid, test in failed.items()
    }
    assert [nodeid for nodeid, names in broken.items() if not names] == [], (
        f"{name}: tests fail that are not {case.breaks}'s"
    )
    caught = set().union(*broken.values())
    assert caught == set(case.breaks), f"{name}: nothing of {set(case.breaks) - caught} fails"
