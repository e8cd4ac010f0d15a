"""run.sh, as an attendee types it: the command list, the shortcuts, the docs
server, the quick tests and the format check; and CI's package installer."""

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from bench.common import free_port, stop_process
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


def test_the_command_list_names_the_set_up_commands():
    listing = run_sh().stdout
    for command in ["fmt", "setup", "lock", "test [--quick]", "docs [--port N]"]:
        assert f"\n  {command}" in listing, command


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["docs", "--port", "0"], {}),
        (["docs", "--port", "65536"], {}),
        (["docs", "--port", "eighty"], {}),
        (["docs", "--port=1e3"], {}),
        (["docs", "--port"], {}),
        (["docs", "--port", "8001", "extra"], {}),
        (["docs"], {"MARKETSVC_DOCS_PORT": "-1"}),
    ],
)
def test_docs_refuses_a_bad_port(args, env):
    result = run_sh(*args, env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "run.sh: docs takes --port N, a port number from 1 to 65535 (or MARKETSVC_DOCS_PORT)"
    )


@pytest.mark.parametrize(
    "how", ["--port", pytest.param("MARKETSVC_DOCS_PORT", marks=pytest.mark.slow)]
)
def test_docs_serves_on_the_port_asked_for_without_the_end_of_life_notice(how, tmp_path):
    port = free_port()
    args, env = (["docs", "--port", str(port)], {}) if how == "--port" else (["docs"], {})
    if how == "MARKETSVC_DOCS_PORT":
        env["MARKETSVC_DOCS_PORT"] = str(port)
    log = tmp_path / "docs.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["./run.sh", *args], cwd=REPO_ROOT, env={**os.environ, **env}, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 60
        page = None
        while page is None and time.monotonic() < deadline and process.poll() is None:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
            except httpx.TransportError:
                time.sleep(0.2)
        assert page is not None and page.status_code == 200, log.read_text()
        assert "Marketplace workshop" in page.text
    finally:
        stop_process(process)
    assert "end of life" not in log.read_text()


@pytest.mark.slow  # two more runs of ruff and pytest
def test_quick_tests_skip_postgresql_and_the_branch_verification():
    env = {"MARKETSVC_TEST_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"}
    args = ["--collect-only", "-q", "tests/workshop/test_steps.py", "tests/test_money.py"]
    quick = run_sh("test", "--quick", *args, env=env)
    assert quick.returncode == 0, quick.stdout + quick.stderr
    assert "PostgreSQL: not tested" in quick.stdout
    assert "test_verify_every_branch" not in quick.stdout
    assert "test_build_makes_one_linear_commit_per_branch" in quick.stdout
    full = run_sh("test", *args, env=env)
    assert "PostgreSQL: not tested" not in full.stdout
    assert "test_verify_every_branch" in full.stdout


@pytest.fixture
def tiny_repo(tmp_path: Path) -> Path:
    """A repository with this run.sh, locks and .venv, one test and one Python file."""
    for name in ["run.sh", "pyproject.toml", "requirements.lock", "requirements-dev.lock"]:
        shutil.copy2(REPO_ROOT / name, tmp_path / name)
    (tmp_path / ".venv").symlink_to(REPO_ROOT / ".venv")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_tiny.py").write_text("def test_tiny():\n    assert True\n")
    return tmp_path


@pytest.mark.slow  # three more runs of ruff and pytest
def test_format_drift_still_runs_the_tests_then_fails_naming_the_fix(tiny_repo: Path):
    (tiny_repo / "drift.py").write_text("import sys, os\nx=[1,\n 2]\nprint(os, sys, x)\n")

    def run(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "MARKETSVC_TEST_DATABASE_URL": ""}
        return subprocess.run(
            ["./run.sh", *args], cwd=tiny_repo, env=env, capture_output=True, text=True, timeout=120
        )

    drifted = run("test", "--quick")
    assert drifted.returncode != 0
    assert "1 passed" in drifted.stdout, "the tests ran anyway"
    assert "./run.sh fmt" in drifted.stdout + drifted.stderr

    assert run("fmt").returncode == 0
    fixed = "import os\nimport sys\n\nx = [1, 2]\nprint(os, sys, x)\n"
    assert (tiny_repo / "drift.py").read_text() == fixed
    clean = run("test", "--quick")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "./run.sh fmt" not in clean.stdout + clean.stderr


# --- tools/install-test-packages.sh, which .ci/run calls ---------------------

INSTALLER = REPO_ROOT / "tools" / "install-test-packages.sh"
TOOLS = ["mktemp", "rm", "cat"]  # what the installer needs besides bash


def fake_machine(tmp_path: Path, uid: int, apt: str | None) -> Path:
    """A PATH holding only stand-ins: `id` says uid, `apt-get` (if any) logs its
    calls, and on `install` creates the packages' commands unless apt is 'fails'."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        (bin_dir / tool).symlink_to(shutil.which(tool))
    (bin_dir / "id").write_text(f"#!/bin/bash\necho {uid}\n")
    if apt is not None:
        (bin_dir / "apt-get").write_text(
            "#!/bin/bash\n"
            f'echo "$DEBIAN_FRONTEND $*" >> {tmp_path / "apt.log"}\n'
            f'[ "$1" = install ] && [ {apt} = fails ] && exit 100\n'
            '[ "$1" = install ] && for p in "$@"; do\n'
            f'  [[ $p == -* || $p == install ]] || printf "#!/bin/bash\\n" > {bin_dir}/$p\n'
            f"  chmod +x {bin_dir}/$p 2>/dev/null\n"
            "done\n"
            "exit 0\n"
        )
    for script in bin_dir.iterdir():
        script.chmod(0o755)
    return bin_dir


def install(tmp_path: Path, bin_dir: Path, *packages: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [shutil.which("bash"), str(INSTALLER), *packages],
        env={"PATH": str(bin_dir), "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )


def apt_calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "apt.log"
    return log.read_text().splitlines() if log.exists() else []


def test_installer_installs_what_is_missing_as_root_with_apt(tmp_path):
    bin_dir = fake_machine(tmp_path, uid=0, apt="works")
    (bin_dir / "fakepooler").write_text("#!/bin/bash\n")
    (bin_dir / "fakepooler").chmod(0o755)
    result = install(tmp_path, bin_dir, "fakebrowser", "fakepooler")
    assert result.returncode == 0
    assert result.stdout == "test packages: installed fakebrowser with apt-get\n"
    assert apt_calls(tmp_path) == [
        "noninteractive update -qq",
        "noninteractive install -y -qq --no-install-recommends fakebrowser",
    ]


def test_installer_does_nothing_when_everything_is_there(tmp_path):
    bin_dir = fake_machine(tmp_path, uid=0, apt="works")
    (bin_dir / "fakebrowser").write_text("#!/bin/bash\n")
    (bin_dir / "fakebrowser").chmod(0o755)
    result = install(tmp_path, bin_dir, "fakebrowser")
    assert result.stdout == "test packages: fakebrowser already installed\n"
    assert apt_calls(tmp_path) == []


@pytest.mark.parametrize(
    ("uid", "apt", "says"),
    [
        (1000, "works", "test packages: fakebrowser missing; not root, so not installed"),
        (0, None, "test packages: fakebrowser missing; no apt-get here, so not installed"),
        (0, "fails", "test packages: apt-get could not install fakebrowser (their tests skip; see"),
    ],
)
def test_installer_says_in_one_line_why_it_installed_nothing(tmp_path, uid, apt, says):
    bin_dir = fake_machine(tmp_path, uid=uid, apt=apt)
    result = install(tmp_path, bin_dir, "fakebrowser")
    assert result.returncode == 0, "the tests that need the package skip; CI goes on"
    assert len(result.stdout.splitlines()) == 1
    assert result.stdout.startswith(says)
    if uid != 0:
        assert apt_calls(tmp_path) == []


def test_ci_runs_the_installer_and_the_full_suite():
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "bash tools/install-test-packages.sh chromium pgbouncer" in ci
    assert ci.rstrip().endswith("./run.sh test")
