# steps: patch
# steps: main Settings
#-    # Connections kept open, and how long a request waits for one before it
#-    # is answered 503.
#-    pool_size: int = 10
#-    pool_timeout: float = 10.0
#=            echo=env.get("MARKETSVC_ECHO", "0").lower() in {"1", "true", "yes"},
#-            pool_size=_number(env, "MARKETSVC_POOL_SIZE", 10, int, 1, 1000),
#-            pool_timeout=_number(env, "MARKETSVC_POOL_TIMEOUT", 10.0, float, 0.1, 600),
