"""The lock files: every dependency pinned with hashes, the runtime versions the
same in both locks, and .venv holding exactly the locked versions."""

import re
from importlib import metadata

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from marketsvc.config import REPO_ROOT

PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^ ;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def pins(lock: str) -> dict[str, tuple[str, str | None, int]]:
    """name -> (version, marker, number of hashes) for each pin of a lock file."""
    found: dict[str, tuple[str, str | None, int]] = {}
    name = None
    for line in (REPO_ROOT / lock).read_text().splitlines():
        match = PIN.match(line)
        if match:
            name = canonicalize_name(match[1])
            found[name] = (match[2], match[3], 0)
        elif line.strip().startswith("--hash=sha256:") and name:
            version, marker, hashes = found[name]
            found[name] = (version, marker, hashes + 1)
    return found


def requirement_names(path: str) -> set[str]:
    names = set()
    for line in (REPO_ROOT / path).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.add(canonicalize_name(Requirement(line).name))
    return names


RUNTIME = pins("requirements.lock")
DEV = pins("requirements-dev.lock")


def test_every_direct_dependency_is_locked():
    assert requirement_names("requirements.txt") <= RUNTIME.keys()
    assert requirement_names("requirements-dev.txt") <= DEV.keys()
    assert "pydantic-settings" in RUNTIME


def test_every_pin_has_hashes():
    for lock in (RUNTIME, DEV):
        unhashed = [name for name, (_, _, hashes) in lock.items() if hashes == 0]
        assert not unhashed


def test_the_runtime_lock_serves_without_the_tools():
    assert not {"pytest", "ruff", "mkdocs", "mkdocs-material", "hypothesis"} & RUNTIME.keys()


def test_both_locks_agree_on_every_runtime_version():
    differ = {
        name: (RUNTIME[name][0], DEV.get(name, ("missing",))[0])
        for name in RUNTIME
        if DEV.get(name, (None,))[0] != RUNTIME[name][0]
    }
    assert not differ


@pytest.mark.parametrize(
    "platform",
    [
        {"sys_platform": "linux", "platform_machine": "x86_64"},
        {"sys_platform": "linux", "platform_machine": "aarch64"},
        {"sys_platform": "darwin", "platform_machine": "arm64"},
    ],
)
def test_one_lock_serves_linux_and_macos(platform):
    """A universal lock (./run.sh lock): pins for every platform, and the hashes
    of every platform's wheels, not only this machine's."""
    environment = {"platform_python_implementation": "CPython", **platform}
    chosen = {
        name
        for name, (_, marker, _) in RUNTIME.items()
        if not marker or Marker(marker).evaluate(environment)
    }
    assert {"uvloop", "uvicorn", "pydantic-core", "asyncpg", "greenlet"} <= chosen
    assert "colorama" not in chosen, "a Windows-only dependency"
    for compiled in ("pydantic-core", "asyncpg", "uvloop", "orjson"):
        assert RUNTIME[compiled][2] >= 10, f"{compiled}: wheels for many platforms"


def test_the_environment_holds_the_locked_versions():
    wrong = {}
    for name, (version, marker, _) in DEV.items():
        if marker and not Marker(marker).evaluate():
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (version, installed)
    assert not wrong, f"run ./run.sh setup: (locked, installed) {wrong}"
