"""What the workshop remembers between commands, in one small file at the
branch's root: the hint level reached per exercise, and which exercises the
last ./run.sh check saw done. .gitignore lists the file, so it never counts
as uncommitted work (./run.sh steps would refuse otherwise) and it stays put
when you switch branches.
"""

from __future__ import annotations

import json
from pathlib import Path

STATE_FILE = ".workshop-state.json"


def load(root: Path) -> dict:
    try:
        data = json.loads((root / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: start afresh
    return data if isinstance(data, dict) else {}


def save(root: Path, data: dict) -> None:
    path = root / STATE_FILE
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    temporary.replace(path)  # never a half-written file


def hint_level(data: dict, step: int, exercise: str) -> int:
    """How many hint levels of the exercise were shown (0 to 3)."""
    level = data.get("hints", {}).get(str(step), {}).get(exercise, 0)
    return level if isinstance(level, int) else 0


def set_hint_level(data: dict, step: int, exercise: str, level: int) -> None:
    data.setdefault("hints", {}).setdefault(str(step), {})[exercise] = level


def last_done(data: dict, branch: str) -> set[str] | None:
    """The exercises the last check on branch saw done; None if none ran."""
    done = data.get("checked", {}).get(branch)
    return set(done) if isinstance(done, list) else None


def set_last_done(data: dict, branch: str, done: list[str]) -> None:
    data.setdefault("checked", {})[branch] = done
