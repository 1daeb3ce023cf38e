"""Confirmation tokens: a sign-up held in a signed link that expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.errors import ConfigError, InputError
from digest.readers.confirm import ConfirmTokens

SECRET = "a-secret-of-more-than-sixteen-characters"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _tokens(list_id: str = "news.example.org") -> ConfirmTokens:
    return ConfirmTokens(SECRET, list_id, lifetime=timedelta(hours=48))


@pytest.mark.parametrize(
    ("address", "name", "sections"),
    [
        ("Reader1@Example.org", "", ()),
        ("ana@example.com", "Ana Lúcia", ("world", "tech")),
        ("x@bücher.example", "李", ("a",)),
    ],
)
def test_round_trip(address: str, name: str, sections: tuple[str, ...]) -> None:
    tokens = _tokens()
    token = tokens.token(address, name, sections, at=T0)
    signup = tokens.check(token, now=T0 + timedelta(hours=1))
    assert signup is not None
    assert signup.address.split("@")[0] == address.split("@")[0]
    assert (signup.name, signup.sections, signup.at) == (name, sections, T0)
    assert all(c.isalnum() or c in "-_." for c in token)


@pytest.mark.parametrize(
    "now",
    [T0 + timedelta(hours=48, seconds=1), T0 + timedelta(days=30), T0 - timedelta(hours=1)],
)
def test_expired_or_future_refused(now: datetime) -> None:
    tokens = _tokens()
    assert tokens.check(tokens.token("a@example.org", at=T0), now=now) is None


def test_other_list_or_secret_refused() -> None:
    token = _tokens().token("a@example.org", at=T0)
    assert _tokens("other.example.org").check(token, now=T0) is None
    other = ConfirmTokens("another-secret-sixteen-plus", "news.example.org")
    assert other.check(token, now=T0) is None


@pytest.mark.parametrize("bad", ["", "nope", "@example.org", "a@", "a b@example.org"])
def test_bad_address_names_field(bad: str) -> None:
    with pytest.raises(InputError, match="address"):
        _tokens().token(bad)


def test_short_secret_refused() -> None:
    with pytest.raises(ConfigError, match="DIGEST_UNSUBSCRIBE_SECRET"):
        ConfirmTokens("short", "news.example.org")


@given(st.data())
def test_any_altered_byte_refused(data: st.DataObject) -> None:
    tokens = _tokens()
    token = tokens.token("reader@example.org", "Ana", ("world",), at=T0)
    index = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.characters(codec="ascii").filter(lambda c: c != token[index]))
    altered = token[:index] + replacement + token[index + 1 :]
    assert tokens.check(altered, now=T0) is None


@given(st.text(max_size=300))
def test_any_text_refused_without_error(text: str) -> None:
    assert _tokens().check(text, now=T0) is None
