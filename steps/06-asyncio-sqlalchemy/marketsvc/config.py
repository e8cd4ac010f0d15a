# steps: patch
"""Settings, read once from the environment (see the README's configuration table)."""
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{REPO_ROOT / 'marketdb'}"
# steps: edit Settings
#-    # True prints every SQL statement the service sends.
#=            host=env.get("MARKETSVC_HOST") or "127.0.0.1",
#-            port=int(env.get("MARKETSVC_PORT") or 9090),
#+            port=_number(env, "MARKETSVC_PORT", 9090, int, 1, 65535),


# steps: main _number
# steps: delete SCHEMA_FILE
