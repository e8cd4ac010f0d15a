# steps: patch main
"""Command line: python -m marketsvc serve | init-db [--reset] | seed."""
# steps: edit main
#-    commands.add_parser(
#-        "create-db", help="PostgreSQL: create the database of the URL if the server lacks it"
#-    )
#=        return run_db_command(settings, init_db_command(settings, args.reset))
#-    if args.command == "create-db":
#-        return run_db_command(settings, create_db_command(settings))
# steps: delete create_db_command
