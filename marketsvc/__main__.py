"""Command line: python -m marketsvc serve | init-db [--reset] | create-db | seed."""

import argparse
import asyncio
import sys

from marketsvc.config import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m marketsvc", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser(
        "serve", help="run the HTTP service (host, port and the rest from the environment)"
    )
    serve_parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes (default: MARKETSVC_WORKERS, or 1)",
    )
    init = commands.add_parser("init-db", help="create the schema and sample data if missing")
    init.add_argument("--reset", action="store_true", help="drop everything first")
    commands.add_parser(
        "create-db", help="PostgreSQL: create the database of the URL if the server lacks it"
    )
    seed = commands.add_parser("seed", help="add generated customers and orders")
    seed.add_argument("--customers", type=int, default=0, metavar="N")
    seed.add_argument("--orders", type=int, default=0, metavar="M")
    seed.add_argument("--random-seed", type=int, default=42, help="for repeatable data")
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
    except ValueError as exc:
        return fail(f"bad configuration: {exc}")

    if args.command == "serve":
        if args.workers is not None:
            if not 1 <= args.workers <= 64:
                return fail(f"--workers must be a number from 1 to 64, got {args.workers}")
            settings = settings.replace(workers=args.workers)
        return serve(settings)
    if args.command == "init-db":
        return run_db_command(settings, init_db_command(settings, args.reset))
    if args.command == "create-db":
        return run_db_command(settings, create_db_command(settings))
    if args.customers < 0 or args.orders < 0:
        return fail("--customers and --orders must not be negative")
    return run_db_command(
        settings, seed_command(settings, args.customers, args.orders, args.random_seed)
    )


def fail(message: str) -> int:
    print(f"marketsvc: {message}", file=sys.stderr)
    return 2


def run_db_command(settings: Settings, command) -> int:
    from marketsvc.db.errors import describe_database_error, settled

    try:
        asyncio.run(settled(command))
    except Exception as exc:  # one clear line instead of a traceback wall
        return fail(describe_database_error(exc, settings.database_url))
    return 0


async def init_db_command(settings: Settings, reset: bool) -> None:
    from marketsvc.db.engine import close_database, open_database
    from marketsvc.db.schema import init_db

    engine = open_database(settings.database_url)
    try:
        loaded = await init_db(engine, reset=reset)
    finally:
        await close_database()
    print("loaded marketdb.sql" if loaded else "the database already has its tables; kept them")


async def create_db_command(settings: Settings) -> None:
    from marketsvc.db.schema import create_database

    if await create_database(settings.database_url):
        print("created the database")


async def seed_command(settings: Settings, customers: int, orders: int, random_seed: int) -> None:
    from marketsvc.db.engine import close_database, open_database
    from marketsvc.db.schema import init_db
    from marketsvc.db.seed import seed

    engine = open_database(settings.database_url)
    try:
        await init_db(engine)
        await seed(engine, customers=customers, orders=orders, random_seed=random_seed)
    finally:
        await close_database()


def serve(settings: Settings) -> int:
    import uvicorn

    from marketsvc.access_log import uvicorn_log_config
    from marketsvc.db.startup import prepare_to_serve

    # Once, before any worker starts: the database is made ready (workers
    # then find it so), and the connection budget is checked for all of them.
    problem = asyncio.run(prepare_to_serve(settings))
    if problem:
        return fail(problem)
    print(f"Marketplace on http://{settings.host}:{settings.port}  (API docs at /docs)")
    uvicorn.run(
        # An import string, not the app: each worker process imports it anew.
        "marketsvc.server:app",
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        # Behind a reverse proxy: take the client's address and scheme from
        # X-Forwarded-For/-Proto, but only when the proxy itself sent them.
        proxy_headers=settings.proxy_headers,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        # A backstop: the app ends its own streams on SIGTERM, but a client
        # that reads nothing keeps its socket open until this runs out.
        timeout_graceful_shutdown=settings.shutdown_timeout,
        access_log=False,  # marketsvc.access_log writes one line per request instead
        log_config=uvicorn_log_config(settings.access_log),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
