"""Command line: python -m marketsvc serve | init-db [--reset]."""

import argparse
import sys

from marketsvc import db_accessor
from marketsvc.config import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m marketsvc", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP service (host and port from the environment)")
    init = commands.add_parser("init-db", help="create the schema and sample data if missing")
    init.add_argument("--reset", action="store_true", help="drop the tables first")
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
    except ValueError as exc:
        return fail(f"bad configuration: {exc}")

    # Both commands start by making sure the database is usable, so that a
    # bad URL gives one clear line here rather than a traceback later.
    try:
        db_accessor.open_database(settings.database_url)
        loaded = db_accessor.init_db(reset=args.command == "init-db" and args.reset)
    except Exception as exc:
        return fail(f"cannot use the database {settings.database_url}: {exc}")
    finally:
        db_accessor.close_database()

    if args.command == "init-db":
        print("loaded marketdb.sql" if loaded else "the database already has its tables; kept them")
        return 0

    import uvicorn

    print(f"Marketplace on http://{settings.host}:{settings.port}  (API docs at /docs)")
    uvicorn.run("marketsvc.server:app", host=settings.host, port=settings.port)
    return 0
# steps: main fail
# steps: main if __name__ == "__main__":
