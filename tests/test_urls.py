"""URLs: one canonical form, and tagging that does not change it."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.urls import WEB_SCHEMES, canonical_url, check_url, on_domains, tag_url

UTM = {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "edition-1"}


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://example.org/café", "https://example.org/caf%C3%A9"),
        ("https://example.org/caf%c3%a9", "https://example.org/caf%C3%A9"),
        ("https://bücher.example/a", "https://xn--bcher-kva.example/a"),
        ("https://BÜCHER.example/a", "https://bücher.example/a/"),
        ("HTTP://Example.org:80/a/?b=2&a=1#comments", "https://example.org/a?a=1&b=2"),
        # A fragment that names a post of its own stays: two posts on one page are two stories.
        ("https://example.org/diary.html#p02", "https://example.org/diary.html#p02"),
        ("https://example.org/post.html#more", "https://example.org/post.html"),
        ("https://www.example.org/a?utm_source=x&q=é", "https://example.org/a?q=%C3%A9"),
    ],
)
def test_copies_of_a_page_have_one_canonical_form(one: str, other: str) -> None:
    assert canonical_url(one) == canonical_url(other)


def test_different_pages_stay_different() -> None:
    assert canonical_url("https://example.org:8443/") != canonical_url("https://example.org/")
    assert canonical_url("https://example.org/a?q=1") != canonical_url("https://example.org/a?q=2")


urls = st.builds(
    lambda host, path, query: f"https://{host}/{path}" + (f"?{query}" if query else ""),
    st.sampled_from(["example.org", "bücher.example", "www.Example.org", "xn--bcher-kva.example"]),
    st.text(alphabet="abcé%/-_.~ü", max_size=20),
    st.text(alphabet="abé=&%", max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(urls)
def test_a_tagged_link_is_the_same_page(url: str) -> None:
    assert canonical_url(tag_url(url, UTM)) == canonical_url(url)


@settings(max_examples=300, deadline=None)
@given(urls)
def test_the_canonical_form_is_stable(url: str) -> None:
    assert canonical_url(canonical_url(url)) == canonical_url(url)


def test_domains_match_in_either_form() -> None:
    assert on_domains("https://news.bücher.example/a", ["xn--bcher-kva.example"])
    assert on_domains("https://xn--bcher-kva.example/a", ["BÜCHER.example"])
    assert not on_domains("https://notbücher.example/a", ["bücher.example"])


@pytest.mark.parametrize(
    ("value", "base", "message"),
    [
        ("/blog/plex", None, "a relative URL needs a base URL; use an absolute URL"),
        (
            "/blog/plex",
            "/blog/",
            "a relative URL needs an absolute base URL, and '/blog/' is not one",
        ),
        ("javascript:alert(1)", "https://x.example/", "the javascript: scheme is not allowed"),
    ],
)
def test_a_url_that_cannot_be_made_absolute_says_why(
    value: str, base: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        check_url(value, WEB_SCHEMES, base)


def test_a_relative_url_resolves_against_its_base() -> None:
    assert check_url("3308.atom", WEB_SCHEMES, "http://intertwingly.net/blog/index.atom") == (
        "http://intertwingly.net/blog/3308.atom"
    )
