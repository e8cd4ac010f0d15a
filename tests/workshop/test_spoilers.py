"""Exercises state goals, not code: no -base branch spells out more than
tools/steps/spoilers.py allows of its solution (the measurement is there)."""

from tools import steps
from tools.steps import spoilers


def test_no_base_branch_spells_out_its_solution():
    over = [
        f"{found.branch}: {found.share:.0%} of {len(found.solution)} solution lines, "
        + "; ".join(f"{code!r} in {', '.join(where)}" for _path, code, where in found.spelled)
        for found in spoilers.measure_course(steps.Source.from_worktree(steps.ROOT))
        if found.share > spoilers.SPOILER_LIMIT
    ]
    assert over == []


BASE_CODE = """\
def total(order):
    '''The order's total. Written as: return sum(line.price for line in order)'''
    # TODO: add the prices up, e.g. with
    #     prices = [line.price for line in
    #               order.lines]
    items = order.lines
    raise NotImplementedError
"""
SOLVED_CODE = """\
def total(order):
    '''The order's total. Written as: return sum(line.price for line in order)'''
    items = order.lines
    prices = [line.price for line in order.lines]
    checked = [price for price in prices if price >= 0]
    if not checked:
        return 0
    return sum(checked)  # a comment is not code
"""


def tree(files: dict[str, str]) -> steps.Tree:
    return steps.Tree({path: text.encode() for path, text in files.items()})


def test_what_counts_as_a_solution_line_and_as_spelled_out():
    base = tree(
        {
            "shop/orders.py": BASE_CODE,
            "docs/page.md": "Keep it short: `return sum(checked)`.\n",
            "shop/other.py": "checked = [price for price in prices if price >= 0]\n",
            "run.sh": "#!/bin/sh\nif not checked:\n",
            "tests/test_orders.py": "# return 0\n",
            ".step.toml": 'step = 2\n[[exercise]]\nname = "x"\nsummary = "s"\nhint = "return 0"\n',
        }
    )
    solved = tree({"shop/orders.py": SOLVED_CODE})

    found = spoilers.measure(base, solved)
    # `items = ...` is in -base already; docstrings and comments are not code.
    assert [code for _path, code in found.solution] == [
        "prices = [line.price for line in order.lines]",
        "checked = [price for price in prices if price >= 0]",
        "if not checked:",
        "return 0",
        "return sum(checked)",
    ]
    # Spelled out: in a comment (even wrapped over two lines) and in a page.
    # Not: code of another file, run.sh's code, tests, the hints of .step.toml.
    assert [(code, where) for _path, code, where in found.spelled] == [
        ("prices = [line.price for line in order.lines]", ["shop/orders.py"]),
        ("return sum(checked)", ["docs/page.md"]),
    ]
    assert found.share == 2 / 5
    with_hints = spoilers.measure(base, solved, with_hints=True)
    assert ("return 0", [".step.toml"]) in [(c, w) for _p, c, w in with_hints.spelled]
