# steps: patch
# steps: edit test_init_db_loads_once_and_reset_reloads
#-    env = {"MARKETSVC_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}"}
#+    env = {"MARKETSVC_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db'}"}


def test_a_bad_database_url_is_one_clear_line(tmp_path):
    for url in ["mysql://nowhere/db", "sqlite:///" + str(tmp_path / "db")]:
        # The second is a synchronous driver: the async engine refuses it.
        result = marketsvc("init-db", env={"MARKETSVC_DATABASE_URL": url})
        assert result.returncode != 0
        assert result.stderr.startswith("marketsvc: ")
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_bad_port_is_one_clear_line():
    result = marketsvc("serve", env={"MARKETSVC_PORT": "ninety"})
    assert result.returncode != 0
    assert "MARKETSVC_PORT" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
# steps: edit test_serve_answers_on_the_configured_port
#-        "MARKETSVC_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}",
#+        "MARKETSVC_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db'}",
#=        assert response.json() == "Welcome to Marketplace!"
#+        orders = httpx.post(f"http://127.0.0.1:{port}/api/orders_total", json={"orders": [1]})
#+        assert orders.json() == [{"order_id": 1, "total": 20.5}]
# steps: delete test_async_sqlite_urls_name_the_same_file
