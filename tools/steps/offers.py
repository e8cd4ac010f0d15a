"""offers: which of run.sh's commands and options work on a branch.

The builder reads them off the branch's own service and writes them into the
branch's .step.toml (`offers = [...]`); run.sh lists and accepts only those.
On main, which has no .step.toml, run.sh offers everything.
"""

from __future__ import annotations

import re

from .trees import Tree

SERVICE = "marketsvc/"


def cli_command(name: str) -> re.Pattern:
    """`python -m marketsvc NAME` exists: its argparse subcommand is added."""
    return re.compile(rf'add_parser\(\s*"{re.escape(name)}"')


def route(path: str) -> re.Pattern:
    """The service answers on path: a route decorator names it."""
    return re.compile(rf'\.(?:get|post|put|patch|delete|api_route)\(\s*"{re.escape(path)}')


# run.sh's command or option -> what the service needs for it to work.
NEEDS = {
    "seed": cli_command("seed"),
    "pg": cli_command("create-db"),  # --pg creates the database first
    "workers": re.compile(r'"--workers"'),
    # --reload runs uvicorn on the import string the service serves.
    "reload": re.compile(r'uvicorn\.run\(\s*(?:#[^\n]*\s*)*"marketsvc\.server:app"'),
    "customers": route("/api/customers"),
    "custorders": route("/api/orders/"),
    "ordertotal": route("/api/order_total/"),
    "orderstotal": route("/api/orders_total"),
    "ordersbet": route("/api/orders_between_dates/"),
    "neworder": route("/api/add_new_order"),
    "cancelorder": route("/api/cancel_order/"),
    "stats": route("/api/stats"),
    "items": route("/api/items"),
    "events": route("/api/events/orders"),
    "query": route("/api/query"),
}


def branch_offers(tree: Tree, has_exercises: bool) -> list[str]:
    """The gated run.sh commands and options that work on the branch of tree."""
    code = "\n".join(
        tree[path].decode("utf-8", "replace")
        for path in tree.under(SERVICE)
        if path.endswith(".py")
    )
    found = [name for name, pattern in NEEDS.items() if pattern.search(code)]
    if has_exercises:
        found += ["hint", "solution"]
    return found
