from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from digest import Article, Newsletter, Quote
from digest.text import clean_text

BASE: dict[str, Any] = {
    "title": "A title",
    "url": "https://example.org/a",
    "section": "news",
    "published_at": "2026-11-20T12:00:00+07:00",
}


def test_json_dates_are_iso_8601_with_a_zone() -> None:
    article = Article.model_validate(BASE)
    assert article.published_at.utcoffset() is not None
    assert article.published_at.isoformat() == "2026-11-20T12:00:00+07:00"


@pytest.mark.parametrize(
    ("changes", "field", "needle"),
    [
        ({"published_at": "2026-11-20T12:00:00"}, "published_at", "timezone"),
        ({"title": ""}, "title", "must not be empty"),
        ({"url": "javascript:alert(1)"}, "url", "javascript: scheme is not allowed"),
        ({"url": "/relative/path"}, "url", "needs a base URL"),
        ({"url": "https://example.org/a b"}, "url", "spaces"),
        ({"image_url": "https://example.org/a.png"}, "image_alt", "needs alt text"),
        ({"image_url": "a.png", "image_alt": ""}, "image_alt", "image_decorative"),
        ({"image_url": "../secret.png", "image_alt": "x"}, "image_url", "relative path"),
        ({"priority": 5000}, "priority", "less than or equal"),
        ({"colour": "red"}, "colour", "Extra inputs"),
    ],
)
def test_bad_articles_name_the_field(changes: dict[str, Any], field: str, needle: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Article.model_validate({**BASE, **changes})
    assert field in str(caught.value)
    assert needle in str(caught.value)


def test_decorative_images_get_an_empty_alt() -> None:
    article = Article.model_validate(
        {**BASE, "image_url": "a.png", "image_alt": "ignored", "image_decorative": True}
    )
    assert article.image_alt == ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            '""Kekuatan dan perkembangan datang hanya dari usaha""',
            "Kekuatan dan perkembangan datang hanya dari usaha",
        ),
        ("“Quoted once”", "Quoted once"),
        ("«Guillemets»", "Guillemets"),
        ("  'single'  ", "single"),
        ('He said "no" twice', 'He said "no" twice'),
    ],
)
def test_quote_marks_are_normalised(raw: str, expected: str) -> None:
    assert Quote(text=raw, author="Someone").text == expected


def test_a_quote_of_only_marks_is_refused() -> None:
    with pytest.raises(ValidationError, match="besides quote marks"):
        Quote(text='""""', author="Someone")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a\x00b\x07c", "abc"),
        ("line one\r\nline two", "line one\nline two"),
        ("para one\n\n\n\npara two", "para one\n\npara two"),
        ("  spaced   out  ", "spaced out"),
        ("emoji 🎉 and RTL مرحبا", "emoji 🎉 and RTL مرحبا"),
        ("e\u0301", "é"),
        ("bad \ufffe char", "bad char"),
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_titles_are_one_line() -> None:
    article = Article.model_validate({**BASE, "title": "Two\nlines\tof  title"})
    assert article.title == "Two lines of title"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"locale": "xx_NOPE"}, "locale"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"brand": {"theme": {"brand": "#12345"}}}, "theme.brand"),
        ({"sender": {"name": "X", "address": "not-an-address"}}, "address"),
        ({"contact": {"postal_address": "x", "unsubscribe_url": "ftp://e.org"}}, "unsubscribe_url"),
    ],
)
def test_bad_newsletter_settings(changes: dict[str, Any], field: str) -> None:
    settings: dict[str, Any] = {
        "name": "N",
        "sender": {"name": "N", "address": "n@example.org"},
        "contact": {"postal_address": "Somewhere"},
    }
    with pytest.raises(ValidationError) as caught:
        Newsletter.model_validate({**settings, **changes})
    assert field in str(caught.value)


def test_sections_accept_names_and_tables() -> None:
    newsletter = Newsletter.model_validate(
        {
            "name": "N",
            "sender": {"name": "N", "address": "n@example.org"},
            "contact": {"postal_address": "Somewhere"},
            "locale": "id-ID",
            "layout": {"sections": ["A", {"name": "B", "label": "Bee", "limit": 1}]},
        }
    )
    assert [s.name for s in newsletter.layout.sections] == ["A", "B"]
    assert newsletter.layout.sections[1].label == "Bee"
    assert newsletter.locale == "id_ID"


def test_models_are_frozen() -> None:
    article = Article.model_validate(BASE)
    with pytest.raises(ValidationError):
        article.title = "changed"  # type: ignore[misc]
    assert isinstance(article.published_at, datetime)


@settings(max_examples=400, deadline=None)
@given(
    st.from_regex(
        r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,70}@[A-Za-z0-9.-]{1,40}(\.[a-zA-Z]{2,6})?",
        fullmatch=True,
    )
    | st.emails().map(str)
    | st.text(max_size=80)
)
def test_the_fast_address_check_answers_as_email_validator_does(value: str) -> None:
    """Plain addresses skip the whole email-validator call; the answer must not change."""
    from digest.addresses import _email_address, email_address

    try:
        slow: str | None = _email_address(value)
    except ValueError:
        slow = None
    try:
        fast: str | None = email_address(value)
    except ValueError:
        fast = None
    assert fast == slow


@pytest.mark.parametrize("value", ["WWW@0.AA", "Postmaster@Example.org", "ABUSE@example.org"])
def test_a_role_mailbox_is_kept_as_written_by_both_checks(value: str) -> None:
    """email-validator 2.4 lowercases role mailboxes; digest sends every address as written."""
    from digest.addresses import _email_address, email_address

    local, domain = value.rsplit("@", 1)
    assert _email_address(value) == email_address(value) == f"{local}@{domain.lower()}"


@pytest.mark.parametrize(
    ("key", "value", "place"),
    [
        ("teasers_per_section", "3", "layout"),
        ("unsubscribe_url", '"https://example.org/u"', "contact"),
        ("send_time", '"07:00:00"', "schedule"),
        ("archive_url", '"https://example.org/a/"', "links"),
        ("footer_text", '"Hello"', "brand"),
    ],
)
def test_a_setting_of_the_flat_table_names_its_new_place(
    tmp_path: Any, key: str, value: str, place: str
) -> None:
    from digest.errors import ConfigError
    from digest.schedule.config import load_config

    config = tmp_path / "n.toml"
    config.write_text(
        f'[newsletter]\nname = "N"\n{key} = {value}\n'
        '[newsletter.contact]\npostal_address = "x"\n'
        '[newsletter.sender]\nname = "N"\naddress = "n@example.org"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert f"'{key}' has moved to [newsletter.{place}]" in str(caught.value)


def test_nested_settings_moves_a_flat_mapping_into_its_tables() -> None:
    from digest.models import nested_settings

    flat = {
        "name": "N",
        "sender": {"name": "N", "address": "n@example.org"},
        "postal_address": "x",
        "teasers_per_section": 2,
        "theme": {"brand": "#112233"},
    }
    newsletter = Newsletter.model_validate(nested_settings(flat))
    assert newsletter.layout.teasers_per_section == 2
    assert newsletter.contact.postal_address == "x"
    assert newsletter.brand.theme.brand == "#112233"


def test_the_documented_config_is_valid() -> None:
    import re
    import tomllib

    from digest.schedule.config import BuildConfig

    from .helpers import ROOT

    (block,) = re.findall(r"```toml\n(.*?)```", (ROOT / "docs" / "cli.md").read_text(), re.S)
    config = BuildConfig.model_validate(tomllib.loads(block))
    assert config.newsletter.layout.sections[0].name == "BANTEN"
    assert config.delivery is not None and config.delivery.smtp is not None
