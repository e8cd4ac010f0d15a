"""Trees of files, and main's files (the source every branch is built from)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .gitplumbing import EXECUTABLE, REGULAR, StepsError, git, read_blobs

# The repository this package lives in: tools/steps/ -> the repository root.
ROOT = Path(__file__).resolve().parents[2]


class Tree(dict[str, bytes]):
    """A branch's files: path -> content, plus which paths are executable."""

    def __init__(self, files=(), executable=()):
        super().__init__(files)
        self.executable = set(executable)

    def mode(self, path: str) -> str:
        return EXECUTABLE if path in self.executable else REGULAR

    def put(self, path: str, data: bytes, executable: bool = False) -> None:
        self[path] = data
        if executable:
            self.executable.add(path)
        else:
            self.executable.discard(path)

    def copy_from(self, other: Tree, path: str, as_path: str | None = None) -> None:
        self.put(as_path or path, other[path], path in other.executable)

    def drop(self, path: str) -> None:
        del self[path]
        self.executable.discard(path)

    def under(self, folder: str) -> list[str]:
        """The paths inside folder (given with its trailing slash)."""
        return sorted(path for path in self if path.startswith(folder))

    def clone(self) -> Tree:
        return Tree(self, self.executable)


@dataclass(eq=False)
class Source:
    """Main's files, which every branch is built from.

    Read either from a checkout on disk (what git would commit: tracked and
    untracked-but-not-ignored files) or from a git ref, so a build can read
    main whatever branch is checked out. Trees built from a source are kept
    in `built`, so a step's tree is laid once however many branches use it.
    """

    files: Tree
    repo: Path
    commit: str | None = None  # set when read from a ref
    built: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_worktree(cls, repo: Path = ROOT) -> Source:
        listing = git(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
        files = Tree()
        for path in sorted(set(listing.split("\0")) - {""}):
            on_disk = repo / path
            if on_disk.is_symlink() or not on_disk.is_file():
                continue  # deleted but still in the index, or not a plain file
            executable = bool(on_disk.stat().st_mode & 0o100)
            files.put(path, on_disk.read_bytes(), executable)
        return cls(files, repo)

    @classmethod
    def from_ref(cls, repo: Path, ref: str) -> Source:
        commit = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
        listing = git(repo, "ls-tree", "-r", "-z", commit)
        modes, blobs = {}, {}
        for entry in listing.split("\0"):
            if not entry:
                continue
            meta, path = entry.split("\t", 1)
            mode, _kind, sha = meta.split()
            if mode not in (REGULAR, EXECUTABLE):
                raise StepsError(f"{ref}:{path}: only plain files are supported (mode {mode})")
            modes[path], blobs[path] = mode, sha
        contents = read_blobs(repo, list(blobs.values()))
        files = Tree()
        for path, sha in blobs.items():
            files.put(path, contents[sha], modes[path] == EXECUTABLE)
        return cls(files, repo, commit)


def resolve_source(source: Source | str | Path | None) -> Source:
    """None: this checkout on disk; str: a git ref; Path: another checkout."""
    if source is None:
        return Source.from_worktree(ROOT)
    if isinstance(source, Source):
        return source
    if isinstance(source, Path):
        return Source.from_worktree(source)
    return Source.from_ref(ROOT, source)


def write_tree_to(tree: Tree, dest: Path) -> None:
    """Write a tree's files under dest, which must be empty or absent."""
    if dest.exists() and any(dest.iterdir()):
        raise StepsError(f"{dest} is not empty")
    for path, data in tree.items():
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(0o755 if path in tree.executable else 0o644)
