# steps: patch main
"""Command line: python -m marketsvc serve | init-db [--reset]."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m marketsvc", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP service (host and port from the environment)")
    init = commands.add_parser("init-db", help="create the schema and sample data if missing")
    init.add_argument("--reset", action="store_true", help="drop everything first")
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
    except ValueError as exc:
        return fail(f"bad configuration: {exc}")

    if args.command == "serve":
        return serve(settings)
    return run_db_command(settings, init_db_command(settings, args.reset))
# steps: delete create_db_command, seed_command


def serve(settings: Settings) -> int:
    import uvicorn

    print(f"Marketplace on http://{settings.host}:{settings.port}  (API docs at /docs)")
    uvicorn.run("marketsvc.server:app", host=settings.host, port=settings.port)
    return 0
