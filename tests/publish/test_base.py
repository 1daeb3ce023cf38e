"""The list managers' base: how long a retry waits, and errors of one line without a key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.errors import ConfigError
from digest.publish.base import LONGEST_WAIT, retry_wait
from digest.publish.listmonk import Listmonk
from digest.publish.mailchimp import Mailchimp
from digest.settings import ListmonkSettings, MailchimpSettings

KEY = "0123456789abcdef0123456789abcdef-us6"


@pytest.mark.parametrize(
    ("retry_after", "backoff", "wait"),
    [
        (None, 1.5, 1.5),  # no Retry-After: the backoff
        ("7", 1.0, 7.0),  # the tool's wait
        ("0", 0.25, 0.25),  # never less than the backoff
        ("3600", 1.0, LONGEST_WAIT),  # an hour is not waited for
        ("Wed, 21 Oct 2026 07:28:00 GMT", 2.0, 2.0),  # an HTTP date: the backoff
        (" 5 ", 1.0, 5.0),
        ("-3", 1.0, 1.0),
    ],
)
def test_a_retry_waits_as_the_tool_says_within_bounds(
    retry_after: str | None, backoff: float, wait: float
) -> None:
    assert retry_wait(retry_after, backoff) == wait


@given(st.text(max_size=200))
def test_an_error_is_one_line_naming_the_tool_and_never_holds_the_key(said: str) -> None:
    publisher = Mailchimp(MailchimpSettings(list_id="a1b2c3d4e5"), {"MAILCHIMP_API_KEY": KEY})
    assert publisher.keys["MAILCHIMP_API_KEY"] == KEY
    error = publisher.fail(f"the tool said: {said} {KEY} {said}")
    assert str(error).startswith("Mailchimp: the tool said:")
    assert KEY not in str(error) and "\n" not in str(error) and "\r" not in str(error)


def test_the_datacentre_is_read_off_the_key() -> None:
    publisher = Mailchimp(MailchimpSettings(list_id="a"), {"MAILCHIMP_API_KEY": KEY})
    assert publisher.base.geturl() == "https://us6.api.mailchimp.com/3.0"
    bare = Mailchimp(MailchimpSettings(list_id="a"), {"MAILCHIMP_API_KEY": "0123456789abcdef"})
    with pytest.raises(ConfigError, match="does not end in its data centre") as caught:
        bare.base  # noqa: B018 (the property reads the key)
    assert "0123456789abcdef" not in str(caught.value)


def test_listmonk_needs_its_address_and_speaks_under_api() -> None:
    environ = {"LISTMONK_USER": "digest", "LISTMONK_TOKEN": "t0ken"}
    with pytest.raises(ConfigError, match=r"publish.listmonk.base_url: needed"):
        Listmonk(ListmonkSettings(lists=[1]), environ).base  # noqa: B018
    served = Listmonk(ListmonkSettings(lists=[1], base_url="https://lists.example.org/"), environ)
    assert served.base.geturl() == "https://lists.example.org/api"
    assert served.admin == "https://lists.example.org"


@pytest.mark.parametrize(
    "address", ["http://lists.example.org", "ftp://lists.example.org", "javascript:alert(1)"]
)
def test_a_key_never_goes_over_plain_http_to_another_machine(address: str) -> None:
    with pytest.raises(ValueError, match="https"):
        ListmonkSettings(lists=[1], base_url=address)
