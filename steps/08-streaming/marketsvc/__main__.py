# steps: patch
"""Command line: python -m marketsvc serve | init-db [--reset] | seed."""


# steps: main main
#-    commands.add_parser(
#-        "create-db", help="PostgreSQL: create the database of the URL if the server lacks it"
#-    )
#=        return run_db_command(settings, init_db_command(settings, args.reset))
#-    if args.command == "create-db":
#-        return run_db_command(settings, create_db_command(settings))
# steps: after init_db_command


# steps: main seed_command
