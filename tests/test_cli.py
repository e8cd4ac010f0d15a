"""The command line: clear one-line failures, init-db that never loses data, seed."""

import os
import subprocess
import sys

import pytest

from marketsvc.config import REPO_ROOT


def marketsvc(*args: str, url: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "MARKETSVC_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "marketsvc", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("nonsense", "not a usable async SQLAlchemy URL"),
        ("sqlite:///x.db", "not a usable async SQLAlchemy URL"),  # a sync driver
        ("postgresql://127.0.0.1/x", "not a usable async SQLAlchemy URL"),  # not installed
        ("mysql+nodriver://localhost/x", "not a usable async SQLAlchemy URL"),
        ("postgresql+asyncpg://nobody:secret@127.0.0.1:1/nothing", "cannot use the database"),
        ("sqlite+aiosqlite:////no/such/folder/market.db", "cannot use the database"),
    ],
)
@pytest.mark.parametrize("command", [["serve"], ["init-db"]])
def test_a_bad_database_url_is_one_clear_line(url, says, command):
    result = marketsvc(*command, url=url, timeout=30)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("marketsvc: ")
    assert says in lines[0]
    assert "secret" not in lines[0]  # passwords are never printed


@pytest.mark.parametrize(
    ("variable", "value", "rule"),
    [
        ("MARKETSVC_PORT", "ninety", "a whole number from 1 to 65535"),
        ("MARKETSVC_PORT", "70000", "a whole number from 1 to 65535"),
        ("MARKETSVC_POOL_TIMEOUT", "-1", "a number from 0.1 to 600"),
        ("MARKETSVC_ECHO", "maybe", "true or false (1 or 0, yes or no)"),
        ("MARKETSVC_ACCESS_LOG", "xml", "one of text, json, off"),
    ],
)
def test_a_bad_setting_is_one_clear_line(variable, value, rule, tmp_path):
    result = marketsvc_with(tmp_path, "serve", {variable: value})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"marketsvc: bad configuration: {variable} must be {rule}, got {value!r}"
    ]
    assert not (tmp_path / "db").exists(), "nothing is done with a bad setting"


@pytest.mark.parametrize("command", ["init-db", "create-db", "seed"])
def test_every_command_checks_the_settings_first(command, tmp_path):
    result = marketsvc_with(tmp_path, command, {"MARKETSVC_POOL_SIZE": "lots"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "marketsvc: bad configuration: MARKETSVC_POOL_SIZE must be a whole number from 1 to 1000,"
        " got 'lots'"
    ]
    assert not (tmp_path / "db").exists()


def marketsvc_with(tmp_path, command: str, variables: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, "MARKETSVC_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db'}"}
    return subprocess.run(
        [sys.executable, "-m", "marketsvc", command],
        cwd=REPO_ROOT,
        env={**env, **variables},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_init_db_keeps_data_and_reset_reloads(database_url, client, snapshot):
    body = {"customer_id": 1, "items": [{"id": 2, "quantity": 1}]}
    assert client.post("/api/add_new_order", json=body).status_code == 201
    with_order = snapshot()

    result = marketsvc("init-db", url=database_url)
    assert result.returncode == 0, result.stderr
    assert "kept them" in result.stdout
    assert snapshot() == with_order

    result = marketsvc("init-db", "--reset", url=database_url)
    assert result.returncode == 0, result.stderr
    assert "loaded marketdb.sql" in result.stdout
    reloaded = snapshot()
    assert len(reloaded["orders"]) == 3
    assert reloaded != with_order


def test_seed_adds_customers_and_orders_with_items(database_url, snapshot):
    result = marketsvc("seed", "--customers", "500", "--orders", "700", url=database_url)
    assert result.returncode == 0, result.stderr
    rows = snapshot()
    assert len(rows["customer"]) == 503
    assert len(rows["address"]) == 503
    assert len(rows["orders"]) == 703
    ordered = {line[0] for line in rows["order_items"]}
    assert ordered == {order[0] for order in rows["orders"]}, "every order has items"


def test_partial_schema_is_refused_with_advice(tmp_path):
    import sqlite3

    path = tmp_path / "half.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY)")
    result = marketsvc("init-db", url=f"sqlite+aiosqlite:///{path}")
    assert result.returncode != 0
    assert "only part of the schema" in result.stderr
    assert "./run.sh reset" in result.stderr
