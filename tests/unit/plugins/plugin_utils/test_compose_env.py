"""Env files (plugin_utils/compose.py env_text) and urlquote (plugin_utils/secrets.py)."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest

from ansible_collections.antone.infra.plugins.plugin_utils.compose import StackError
from ansible_collections.antone.infra.plugins.plugin_utils.compose import env_text as compose_env
from ansible_collections.antone.infra.plugins.plugin_utils.secrets import urlquote

PLAN = {
    "PORT": {"value": "3001"},
    "DATABASE_URL": {"secret": "database_url"},
    "POSTGRES_PASSWORD_FILE": {"file": "/run/secrets/postgres_password"},
}


def test_lines_are_sorted_single_quoted_and_end_in_a_newline() -> None:
    text = compose_env(PLAN, secrets={"database_url": "postgresql://a:p$ss@h/d"})
    assert text == (
        "DATABASE_URL='postgresql://a:p$ss@h/d'\n"
        "PORT='3001'\n"
        "POSTGRES_PASSWORD_FILE='/run/secrets/postgres_password'\n"
    )


def test_example_leaves_secrets_blank() -> None:
    assert "DATABASE_URL=''\n" in compose_env(PLAN, example=True)


def test_an_empty_plan_is_an_empty_file() -> None:
    assert compose_env({}) == ""


def test_a_missing_secret_is_named_without_values() -> None:
    with pytest.raises(StackError, match="DATABASE_URL needs the secret 'database_url'"):
        compose_env(PLAN, secrets={})


@pytest.mark.parametrize("value", ["it's", "two\nlines", "ends\\", "nul\0"])
def test_values_single_quotes_cannot_hold_are_refused_by_name(value: str) -> None:
    with pytest.raises(StackError) as error:
        compose_env({"A": {"secret": "a"}}, secrets={"a": value})
    assert "the value of A" in str(error.value)
    assert value not in str(error.value)


@pytest.mark.parametrize("password", ["p$ss@w/rd", "a:b%40c d", "ü/?#[]@!$&'()*+,;="])
def test_urlquote_survives_a_url_round_trip(password: str) -> None:
    url = f"postgresql://antone:{urlquote(password)}@postgres:5432/antone"
    parts = urlsplit(url)
    assert parts.hostname == "postgres" and parts.port == 5432
    assert unquote(parts.password or "") == password


def test_urlquote_encodes_the_slash_that_urlencode_keeps() -> None:
    assert urlquote("a/b") == "a%2Fb"
    assert urlquote("safe-._~") == "safe-._~"
