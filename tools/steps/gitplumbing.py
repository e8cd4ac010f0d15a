"""Git plumbing: reading blobs and writing trees without touching the index."""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

REGULAR, EXECUTABLE = "100644", "100755"


class StepsError(Exception):
    """A problem the user can fix; the CLI prints it without a traceback."""


def git(
    repo: Path,
    *args: str,
    stdin: bytes | str | None = None,
    env: dict | None = None,
    check: bool = True,
) -> str:
    """Run git in repo and return its output (text)."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    result = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=data,
        capture_output=True,
        env={**os.environ, **(env or {})},
    )
    if check and result.returncode != 0:
        raise StepsError(f"git {' '.join(args)} failed:\n{result.stderr.decode().strip()}")
    return result.stdout.decode()


def git_ok(repo: Path, *args: str) -> bool:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True).returncode == 0


def read_blobs(repo: Path, shas: list[str]) -> dict[str, bytes]:
    """Many blobs' contents through one `git cat-file --batch`."""
    wanted = sorted(set(shas))
    result = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch"],
        input="".join(f"{sha}\n" for sha in wanted).encode(),
        capture_output=True,
        check=True,
    )
    out, position, contents = result.stdout, 0, {}
    for sha in wanted:
        header_end = out.index(b"\n", position)
        size = int(out[position:header_end].split()[2])
        contents[sha] = out[header_end + 1 : header_end + 1 + size]
        position = header_end + 1 + size + 1  # the content is followed by "\n"
    return contents


def blob_id(data: bytes, algorithm: str) -> str:
    return hashlib.new(algorithm, b"blob %d\0" % len(data) + data).hexdigest()


def write_git_tree(repo: Path, files: dict[str, bytes], mode) -> str:
    """Store files (path -> content; mode(path) gives the file mode) as a git
    tree object and return its id.

    Blobs are named in Python; only the missing ones are written. The tree
    object is made through a throw-away index (GIT_INDEX_FILE), so neither
    the real index nor the working tree is touched.
    """
    algorithm = git(repo, "rev-parse", "--show-object-format").strip()
    if algorithm not in ("sha1", "sha256"):
        algorithm = "sha1"  # a git too old to know the option has only SHA-1
    ids = {path: blob_id(data, algorithm) for path, data in files.items()}
    check = git(repo, "cat-file", "--batch-check", stdin="".join(f"{i}\n" for i in ids.values()))
    missing = {line.split()[0] for line in check.splitlines() if line.endswith(" missing")}
    for path, object_id in ids.items():
        if object_id in missing:
            written = git(
                repo, "hash-object", "-w", "--stdin", "--no-filters", stdin=files[path]
            ).strip()
            if written != object_id:
                raise StepsError(f"git named {path} {written}, expected {object_id}")
            missing.discard(object_id)
    entries = "".join(f"{mode(path)} {ids[path]}\t{path}\0" for path in sorted(files))
    with tempfile.TemporaryDirectory() as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        git(repo, "update-index", "--add", "-z", "--index-info", stdin=entries, env=env)
        return git(repo, "write-tree", env=env).strip()
