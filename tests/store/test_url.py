"""Store URLs: which backend each names, and a password never shown or read from a config."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.errors import ConfigError
from digest.store import ENVIRONMENT, StoreSettings, mask, parse_store_url, store_url


@pytest.mark.parametrize(
    ("text", "backend", "path"),
    [
        ("sqlite:", "sqlite", None),
        ("sqlite://", "sqlite", None),
        (
            "sqlite:////srv/news/weekly.sends.sqlite3",
            "sqlite",
            Path("/srv/news/weekly.sends.sqlite3"),
        ),
        ("postgresql://digest@db.example.org/newsroom", "postgresql", None),
        ("postgresql:///digest_test?options=-csearch_path%3Dnews", "postgresql", None),
        ("postgres://digest@db:5433/newsroom", "postgresql", None),
    ],
)
def test_a_url_names_its_backend(text: str, backend: str, path: Path | None) -> None:
    url = parse_store_url(text)
    assert (url.backend, url.path) == (backend, path)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("mysql://db/news", "names no store digest knows"),
        ("sqlite:news.db", "is not a SQLite URL"),
        ("sqlite:///", "is not a SQLite URL"),
        ("sqlite:///relative.sqlite3", "an absolute path"),
        ("postgresql://db:port/news", "is not a PostgreSQL URL"),
        ("postgresql://digest:hunter2@db/news", "holds a password"),
        ("postgresql://db/news?password=hunter2", "holds a password"),
    ],
)
def test_a_bad_url_is_named_with_its_password_masked(text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as raised:
        parse_store_url(text)
    assert str(raised.value).startswith("store.url: ")
    assert "hunter2" not in str(raised.value)


def test_the_environment_wins_and_may_hold_the_password() -> None:
    settings = StoreSettings(url="postgresql://digest@db/config")
    assert store_url(settings, {}).url == "postgresql://digest@db/config"
    env = {ENVIRONMENT: "postgresql://digest:hunter2@db/env"}
    url = store_url(settings, env)
    assert url.url == "postgresql://digest:hunter2@db/env"
    assert str(url) == "postgresql://digest:***@db/env"
    assert "hunter2" not in repr(url)
    assert store_url(StoreSettings(), {ENVIRONMENT: "  "}).backend == "sqlite"


def test_a_password_in_the_config_is_refused_even_while_the_environment_wins() -> None:
    settings = StoreSettings(url="postgresql://digest:hunter2@db/config")
    with pytest.raises(ConfigError, match="holds a password") as raised:
        store_url(settings, {ENVIRONMENT: "postgresql://digest@db/env"})
    assert "hunter2" not in str(raised.value)


SAFE = st.characters(blacklist_characters="@/?#&", blacklist_categories=["Cs", "Zs", "Cc"])


@given(
    user=st.text(st.characters(whitelist_categories=["Ll", "Nd"]), max_size=20),
    password=st.text(SAFE, min_size=1, max_size=30),
    host=st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True),
)
def test_a_password_is_never_in_the_masked_url(user: str, password: str, host: str) -> None:
    assert mask(f"postgresql://{user}:{password}@{host}/db") == f"postgresql://{user}:***@{host}/db"
    assert mask(f"postgresql://{host}/db?sslmode=require&password={password}") == (
        f"postgresql://{host}/db?sslmode=require&password=***"
    )


@given(st.text(max_size=200))
def test_any_text_as_a_url_parses_or_is_one_config_error(text: str) -> None:
    try:
        url = parse_store_url(text)
    except ConfigError as error:
        assert "\n" not in str(error).strip() or "\n" in text
    else:
        assert url.backend in ("sqlite", "postgresql")
