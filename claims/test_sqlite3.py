"""Python's sqlite3 module and SQLite itself (pages 1 and 10).

Each test opens a real SQLite file of its own, as step 1's db_accessor does.
"""

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """A SQLite file with a table `item` of two rows."""
    path = tmp_path / "claims.db"
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executescript(
            "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT);"
            "INSERT INTO item VALUES (1, 'Milk'), (2, 'Bread');"
        )
    return path


def names(path: Path) -> list[str]:
    """The item names as a fresh connection sees them: what has been committed."""
    with closing(sqlite3.connect(path)) as conn:
        return [name for (name,) in conn.execute("SELECT name FROM item ORDER BY id")]


# --- page 1: one connection, one thread --------------------------------------


def test_a_sqlite3_connection_refuses_other_threads(path):
    """By default a connection may only be used by the thread that opened it."""
    errors: list[Exception] = []
    with closing(sqlite3.connect(path)) as conn:

        def use() -> None:
            try:
                conn.execute("SELECT 1")
            except sqlite3.ProgrammingError as error:
                errors.append(error)

        thread = threading.Thread(target=use)
        thread.start()
        thread.join()
        assert conn.execute("SELECT 1").fetchone() == (1,)  # fine in its own thread
    assert len(errors) == 1
    assert "can only be used in that same thread" in str(errors[0])


# --- page 1: placeholders ------------------------------------------------------


def test_a_placeholder_keeps_the_value_out_of_the_sql(path):
    """A `?` value is only ever a value; pasted into the SQL, it rewrites the query."""
    evil = "0 OR 1 = 1"
    with closing(sqlite3.connect(path)) as conn:
        bound = conn.execute("SELECT name FROM item WHERE id = ?", (evil,)).fetchall()
        pasted = conn.execute(f"SELECT name FROM item WHERE id = {evil}").fetchall()
    assert bound == []  # no id equals the text '0 OR 1 = 1'
    assert pasted == [("Milk",), ("Bread",)]  # the condition became always true


def test_placeholders_let_sqlite3_reuse_the_prepared_statement(path):
    """SQLite calls the authorizer while it compiles (prepares) a statement, not
    when it runs one: one SQL text with `?` is compiled once and then reused
    from sqlite3's statement cache; a new SQL text per value is compiled each time."""
    compiled: list[int] = []

    def authorizer(action: int, *_details) -> int:
        if action == sqlite3.SQLITE_SELECT:  # once per SELECT statement compiled
            compiled.append(action)
        return sqlite3.SQLITE_OK

    with closing(sqlite3.connect(path)) as conn:
        conn.set_authorizer(authorizer)
        for item_id in (1, 2):
            conn.execute("SELECT name FROM item WHERE id = ?", (item_id,)).fetchall()
        with_placeholder = len(compiled)
        compiled.clear()
        for item_id in (1, 2):
            conn.execute(f"SELECT name FROM item WHERE id = {item_id}").fetchall()
        pasted = len(compiled)
    assert (with_placeholder, pasted) == (1, 2)


def test_the_trace_shows_the_values_filled_in(path):
    """The trace callback gets the statement with SQLite's expansion of the `?`."""
    traced: list[str] = []
    with closing(sqlite3.connect(path)) as conn:
        conn.set_trace_callback(traced.append)
        conn.execute("SELECT name FROM item WHERE id = ?", (2,)).fetchall()
    assert traced == ["SELECT name FROM item WHERE id = 2"]


# --- page 1: transactions --------------------------------------------------------


def test_sqlite3_begins_before_the_first_write_not_before_a_read(path):
    """sqlite3 (in its default, legacy transaction mode) sends BEGIN by itself
    just before an INSERT, UPDATE or DELETE, never before a SELECT."""
    traced: list[str] = []
    with closing(sqlite3.connect(path)) as conn:
        conn.set_trace_callback(traced.append)
        conn.execute("SELECT count(*) FROM item").fetchone()
        conn.execute("INSERT INTO item (name) VALUES ('Onion')")
        conn.execute("SELECT count(*) FROM item").fetchone()
        conn.rollback()
    assert [statement.split()[0] for statement in traced] == [
        "SELECT",
        "BEGIN",
        "INSERT",
        "SELECT",
        "ROLLBACK",
    ]


def test_with_conn_commits_or_rolls_back_and_leaves_the_connection_open(path):
    """`with conn:` commits when the block ends, rolls back when it raises,
    and does not close the connection."""
    with closing(sqlite3.connect(path)) as conn:
        with conn:
            conn.execute("INSERT INTO item (name) VALUES ('Onion')")
        assert names(path) == ["Milk", "Bread", "Onion"]  # committed
        with pytest.raises(LookupError), conn:
            conn.execute("INSERT INTO item (name) VALUES ('Kit Kat')")
            raise LookupError("item 99 does not exist")
        assert names(path) == ["Milk", "Bread", "Onion"]  # rolled back
        assert conn.execute("SELECT count(*) FROM item").fetchone() == (3,)  # still open


def test_closing_without_commit_discards_the_writes(path):
    """close() does not commit: what was written since the last commit is lost."""
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO item (name) VALUES ('Onion')")
    assert conn.execute("SELECT count(*) FROM item").fetchone() == (3,)  # seen inside
    conn.close()
    assert names(path) == ["Milk", "Bread"]


# --- page 10: readers that become writers ----------------------------------------


def test_two_readers_that_both_write_fail_one_and_waiting_does_not_help(path):
    """Deferred transactions start as readers. When both have read and then
    both write, the second writer fails with 'database is locked' although
    busy_timeout would let it wait 30 s: SQLite does not wait, as waiting could
    never end. Even after the first has committed it still fails, because what
    it read is out of date: only a rollback lets it go on."""
    with closing(sqlite3.connect(path)) as setup:
        setup.execute("PRAGMA journal_mode = WAL")  # as the finished service runs SQLite
    first = sqlite3.connect(path, isolation_level=None, timeout=30)  # busy_timeout: 30 s
    second = sqlite3.connect(path, isolation_level=None, timeout=30)
    with closing(first), closing(second):
        for conn in (first, second):
            conn.execute("BEGIN")  # deferred: a reader until its first write
            conn.execute("SELECT count(*) FROM item").fetchone()
        first.execute("INSERT INTO item (name) VALUES ('Onion')")
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            second.execute("INSERT INTO item (name) VALUES ('Tea')")
        first.execute("COMMIT")  # the write lock is free again
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            second.execute("INSERT INTO item (name) VALUES ('Tea')")
        second.execute("ROLLBACK")
        second.execute("BEGIN IMMEDIATE")  # a writer from the start
        second.execute("INSERT INTO item (name) VALUES ('Tea')")
        second.execute("COMMIT")
    assert names(path) == ["Milk", "Bread", "Onion", "Tea"]


# --- page 8: what a research connection relies on ---------------------------------


def test_sqlite_refuses_what_its_authorizer_limits_and_progress_handler_forbid(path):
    """The messages of the research route's table are SQLite's own: an
    authorizer's SQLITE_DENY, a length limit, query_only, and a progress
    handler that asks SQLite to stop."""

    def authorizer(action: int, _arg1, arg2, _database, _trigger) -> int:
        if action == sqlite3.SQLITE_FUNCTION:  # arg2: the function's name
            return sqlite3.SQLITE_DENY if arg2 == "fts3_tokenizer" else sqlite3.SQLITE_OK
        reading = (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE)
        return sqlite3.SQLITE_OK if action in reading else sqlite3.SQLITE_DENY

    def refusal(conn: sqlite3.Connection, sql: str) -> str:
        with pytest.raises(sqlite3.DatabaseError) as caught:
            conn.execute(sql).fetchall()
        return str(caught.value)

    with closing(sqlite3.connect(path)) as conn:
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1_000_000)
        conn.execute("PRAGMA query_only = ON")
        assert refusal(conn, "SELECT zeroblob(1000000000)") == "string or blob too big"
        assert "readonly database" in refusal(conn, "DELETE FROM item")
        conn.set_authorizer(authorizer)
        assert refusal(conn, "DELETE FROM item") == "not authorized"
        assert refusal(conn, "ATTACH DATABASE 'x.db' AS x") == "not authorized"
        assert refusal(conn, "SELECT fts3_tokenizer('simple')") == (
            "not authorized to use function: fts3_tokenizer"
        )
        assert conn.execute("SELECT count(*) FROM item").fetchone() == (2,)
        conn.set_progress_handler(lambda: 1, 1000)  # non-zero: stop the statement
        slow = (
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT max(i) FROM n"
        )
        assert refusal(conn, slow) == "interrupted"
