"""run.sh, as an attendee types it: the command list and the shortcuts."""

import json
import os
import subprocess

import pytest

from marketsvc.config import REPO_ROOT


def run_sh(*args: str, port: int | None = None, env: dict | None = None):
    environment = {**os.environ, **(env or {})}
    if port is not None:
        environment["MARKETSVC_PORT"] = str(port)
    return subprocess.run(
        ["./run.sh", *args],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_no_command_lists_every_command():
    result = run_sh()
    assert result.returncode == 0
    for command in ["run", "test", "reset", "seed", "steps", "check", "docs", "customers",
                    "custorders", "ordertotal", "orderstotal", "ordersbet", "neworder",
                    "stats", "items", "events", "query"]:  # fmt: skip
        assert f"\n  {command}" in result.stdout, command


def test_an_unknown_command_is_refused_with_the_list():
    result = run_sh("bogus")
    assert result.returncode == 2
    assert "unknown command 'bogus'" in result.stderr
    assert "Usage" in result.stderr


@pytest.mark.parametrize("args", [["run", "extra"], ["test", "--pg"], ["customers", "--pg"]])
def test_misplaced_arguments_are_refused(args):
    result = run_sh(*args)
    assert result.returncode == 2
    assert "run.sh:" in result.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_shortcuts_talk_to_the_running_service(live_server):
    port = live_server.port

    def answer(*args, env=None):
        result = run_sh(*args, port=port, env=env)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert len(json.loads(answer("customers"))) == 3
    assert json.loads(answer("custorders", "2"))[0]["order_id"] == 2
    assert json.loads(answer("ordertotal", "3")) == {"order_id": 3, "total": 21}
    assert [o["order_id"] for o in json.loads(answer("orderstotal", "3,1"))] == [3, 1]
    assert len(json.loads(answer("ordersbet", "2024-03-31", "2024-03-01"))) == 3
    assert json.loads(answer("neworder", "2", "4:3")) == {"order_id": 4}
    assert json.loads(answer("ordertotal", "4"))["total"] == 6
    assert json.loads(answer("stats"))["orders"] == 4
    assert json.loads(answer("items", "Green tea", "3.25", "Loose 'leaf'"))["id"] == 5
    assert json.loads(answer("items"))[-1]["description"] == "Loose 'leaf'"
    assert "event: end" in answer("events", "customer_id=2")
    refused = run_sh("query", port=port, env={"MARKETSVC_QUERY_TOKEN": ""})
    assert refused.returncode == 2
    assert "MARKETSVC_QUERY_TOKEN" in refused.stderr
