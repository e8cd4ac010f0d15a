"""mkdocs hooks (mkdocs.yml `hooks:`): step pages include the code they show
from the step branches' files, as tools/steps/includes.py describes, and the
`<!-- sql-log: ... -->` comments that tell tests/workshop/test_sql_logs.py
how to check a log block stay out of the site.

The branches' trees are built in memory from steps/ in this checkout; on a
step branch, which has no steps/, from main (or origin/main) in this clone.
"""

import functools
import re
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.steps import Source, StepsError, build_tree  # noqa: E402
from tools.steps.gitplumbing import git_ok  # noqa: E402
from tools.steps.includes import expand  # noqa: E402


@functools.cache
def source() -> Source:
    if (ROOT / "steps").is_dir():
        return Source.from_worktree(ROOT)
    for ref in ("refs/heads/main", "refs/remotes/origin/main"):
        if git_ok(ROOT, "rev-parse", "--verify", "--quiet", ref):
            return Source.from_ref(ROOT, ref)
    raise PluginError("the pages include code from main's steps/: fetch main, then build again")


def read(branch: str | None, path: str) -> str | None:
    if branch is None:
        on_disk = ROOT / path
        return on_disk.read_text(encoding="utf-8") if on_disk.is_file() else None
    data = build_tree(branch, source()).get(path)
    return None if data is None else data.decode("utf-8")


# A blank line in its place keeps the page's line numbers for the messages.
SQL_LOG_COMMENT = re.compile(r"^[ \t]*<!-- sql-log: .*-->[ \t]*$", re.MULTILINE)


def on_page_markdown(markdown, page, config, files):
    markdown = SQL_LOG_COMMENT.sub("", markdown)
    if "--8<--" not in markdown:
        return markdown
    try:
        return expand(markdown, page.meta.get("branch"), read, f"docs/{page.file.src_path}")
    except StepsError as error:
        raise PluginError(str(error)) from error
