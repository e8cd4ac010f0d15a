"""Settings: every MARKETSVC_ variable read and checked by pydantic-settings."""

import os
import re

import pytest
from pydantic import SecretStr, ValidationError

from marketsvc.config import DEFAULT_DATABASE_URL, REPO_ROOT, Settings, SettingsError


@pytest.fixture
def environ(monkeypatch):
    """Set MARKETSVC_ variables for one test, with every other one removed."""
    for name in list(os.environ):
        if name.startswith("MARKETSVC_"):
            monkeypatch.delenv(name)

    def put(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(f"MARKETSVC_{name}", value)

    return put


def test_no_variables_give_the_defaults(environ):
    settings = Settings.from_env()
    assert settings == Settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert (settings.host, settings.port) == ("127.0.0.1", 9090)
    assert settings.query_token is None
    assert settings.access_log == "text"


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        ("DATABASE_URL", "postgresql+asyncpg://me@db/market", "database_url", "postgresql+asyncpg://me@db/market"),
        ("HOST", "0.0.0.0", "host", "0.0.0.0"),
        ("PORT", "9091", "port", 9091),
        ("ECHO", "1", "echo", True),
        ("ECHO", "yes", "echo", True),
        ("ECHO", "0", "echo", False),
        ("POOL_SIZE", "3", "pool_size", 3),
        ("POOL_TIMEOUT", "2.5", "pool_timeout", 2.5),
        ("QUERY_DATABASE_URL", "postgresql+asyncpg://reader@db/market", "query_database_url", "postgresql+asyncpg://reader@db/market"),
        ("QUERY_TIMEOUT", "5", "query_timeout", 5.0),
        ("SSE_KEEPALIVE", "0.5", "sse_keepalive", 0.5),
        ("ACCESS_LOG", "json", "access_log", "json"),
        ("ACCESS_LOG", "off", "access_log", "off"),
    ],
)  # fmt: skip
def test_each_variable_sets_its_field(environ, variable, value, field, expected):
    environ(**{variable: value})
    assert getattr(Settings.from_env(), field) == expected


def test_an_empty_variable_counts_as_unset(environ):
    environ(PORT="", QUERY_TOKEN="", DATABASE_URL="", ACCESS_LOG="")
    assert Settings.from_env() == Settings()


def test_the_token_is_a_secret_that_no_repr_shows(environ):
    environ(QUERY_TOKEN="s3cret-value")
    settings = Settings.from_env()
    assert isinstance(settings.query_token, SecretStr)
    assert settings.query_token.get_secret_value() == "s3cret-value"
    assert "s3cret-value" not in repr(settings)
    assert "s3cret-value" not in str(settings.model_dump())


WHOLE_PORT = "a whole number from 1 to 65535"


@pytest.mark.parametrize(
    ("variable", "value", "rule"),
    [
        ("PORT", "ninety", WHOLE_PORT),
        ("PORT", "0", WHOLE_PORT),
        ("PORT", "80.5", WHOLE_PORT),
        ("POOL_SIZE", "1001", "a whole number from 1 to 1000"),
        ("SSE_KEEPALIVE", "nan", "a number from 0.05 to 3600"),
        ("QUERY_TIMEOUT", "inf", "a number from 0.1 to 3600"),
        ("ECHO", "2", "true or false (1 or 0, yes or no)"),
        ("ACCESS_LOG", "JSONL", "one of text, json, off"),
    ],
)
def test_a_bad_value_is_named_in_one_line(environ, variable, value, rule):
    environ(**{variable: value})
    with pytest.raises(SettingsError) as caught:
        Settings.from_env()
    assert str(caught.value) == f"MARKETSVC_{variable} must be {rule}, got {value!r}"


def test_settings_built_in_code_ignore_the_environment(environ):
    environ(PORT="9999", QUERY_TOKEN="from-the-shell", ECHO="1")
    settings = Settings(database_url="sqlite+aiosqlite:///x.db")
    assert settings.port == 9090
    assert settings.query_token is None
    assert settings.echo is False


def test_replace_changes_some_values_and_checks_them():
    settings = Settings(database_url="sqlite+aiosqlite:///x.db")
    changed = settings.replace(query_token="t0ken", pool_size=2)
    assert changed.query_token.get_secret_value() == "t0ken"
    assert (changed.pool_size, changed.database_url) == (2, settings.database_url)
    assert settings.query_token is None, "the original is left as it was"
    with pytest.raises(ValidationError):
        settings.replace(port=0)
    with pytest.raises(ValidationError):
        settings.replace(no_such_setting=1)


def test_settings_cannot_be_changed_in_place():
    with pytest.raises(ValidationError):
        Settings().port = 1  # type: ignore[misc]


def test_every_setting_is_documented():
    documented = set(re.findall(r"`MARKETSVC_([A-Z_]+)`", (REPO_ROOT / "README.md").read_text()))
    reference = (REPO_ROOT / "docs/reference/configuration.md").read_text()
    documented &= set(re.findall(r"`MARKETSVC_([A-Z_]+)`", reference))
    missing = {name.upper() for name in Settings.model_fields} - documented
    assert not missing, f"add to README.md and docs/reference/configuration.md: {missing}"
