# steps: patch
"""Command line: python -m marketsvc serve | init-db [--reset] | seed."""
# steps: main main
#-    serve_parser = commands.add_parser(
#-        "serve", help="run the HTTP service (host, port and the rest from the environment)"
#-    )
#-    serve_parser.add_argument(
#-        "--workers",
#-        type=int,
#-        metavar="N",
#-        help="worker processes (default: MARKETSVC_WORKERS, or 1)",
#-    )
#+    commands.add_parser("serve", help="run the HTTP service (host and port from the environment)")
#-    commands.add_parser(
#-        "create-db", help="PostgreSQL: create the database of the URL if the server lacks it"
#-    )
#=    if args.command == "serve":
#-        if args.workers is not None:
#-            if not 1 <= args.workers <= 64:
#-                return fail(f"--workers must be a number from 1 to 64, got {args.workers}")
#-            settings = settings.replace(workers=args.workers)
#=        return run_db_command(settings, init_db_command(settings, args.reset))
#-    if args.command == "create-db":
#-        return run_db_command(settings, create_db_command(settings))
# steps: after init_db_command
# steps: main seed_command
