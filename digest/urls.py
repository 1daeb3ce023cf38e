"""URLs: the one place that checks a link, compares two links, tags one and matches domains.

- ``check_url``: an absolute URL with an allowed scheme (or a relative one resolved against a
  base), no spaces, control, invisible, unassigned or private-use characters, no backslash.
- ``canonical_url``: the form under which copies of one page compare equal: scheme and host
  case, an IDN host in its ASCII (IDNA) form, ``http``/``https``, default ports, ``www.``, a
  trailing slash, the order of query parameters, tracking parameters and percent-encoding
  (``café`` and ``caf%C3%A9`` are one path) do not matter. ``CanonicalUrls`` remembers the
  forms one selection or build asks for (the caller owns it; nothing is kept between builds).
- ``tag_url``: UTM parameters added to a web link's query, the rest of the link as it was; a
  tagged link has the same canonical form as the untagged one.
- ``on_domains``: whether a URL's host is one of some domains or under one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

__all__ = [
    "FORBIDDEN_SCHEMES",
    "LINK_SCHEMES",
    "PLACEHOLDER_HOSTS",
    "WEB_SCHEMES",
    "CanonicalUrls",
    "canonical_url",
    "check_url",
    "on_domains",
    "tag_url",
]

#: RFC 2606's example domains, the hosts of the starter config's links (``digest init``):
#: nobody answers there.
PLACEHOLDER_HOSTS = frozenset({"example.org", "example.com", "example.net"})

#: Schemes article links may use by default; pass ``url_schemes`` to ``Newsletter``
#: (or set ``url_schemes`` in a config file) to narrow or widen them.
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
#: Schemes that can run code or embed content; never allowed, whatever the configuration.
FORBIDDEN_SCHEMES = frozenset({"javascript", "vbscript", "data", "file", "blob", "about"})
#: Schemes of web pages and pictures.
WEB_SCHEMES = frozenset({"http", "https"})

# Query parameters that say where a click came from, not which page it is.
_TRACKING_PARAMS = frozenset({"fbclid", "gclid", "mc_cid", "mc_eid", "ref"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# What a path or query keeps unencoded in the canonical form: RFC 3986's unreserved and
# sub-delimiter characters, ":" and "@" (and "/" in a path).
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = ":@!$'()*,;-._~/?"


def check_url(value: str, schemes: Collection[str], base: str | None = None) -> str:
    """Return ``value`` if it is an absolute URL with an allowed scheme, else raise ``ValueError``.

    A relative URL is resolved against ``base`` when one is given.
    """
    value = value.strip()
    if not value:
        raise ValueError("the URL is empty")
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in value):
        raise ValueError("a URL may not contain spaces, control or invisible characters")
    if any(unicodedata.category(ch) in ("Cn", "Co") for ch in value):
        # MRML writes such characters as Rust escapes (\u{d7c7}), which breaks the link.
        raise ValueError("a URL may not contain unassigned or private-use characters")
    if "\\" in value:
        # Browsers read a backslash as a slash, and MRML doubles it: the link would differ.
        raise ValueError("a URL may not contain a backslash (write a slash, or %5C)")
    scheme = urlsplit(value).scheme.lower()
    if not scheme:
        if base is None:
            raise ValueError("a relative URL needs a base URL; use an absolute URL")
        value = urljoin(base, value)
        scheme = urlsplit(value).scheme.lower()
        if not scheme:
            raise ValueError(f"a relative URL needs an absolute base URL, and {base!r} is not one")
    allowed = sorted(set(schemes) - FORBIDDEN_SCHEMES)
    if scheme not in allowed:
        raise ValueError(f"the {scheme}: scheme is not allowed (allowed: {', '.join(allowed)})")
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 (urllib checks the port when it is read)
    except ValueError:
        raise ValueError("the port is not a number from 0 to 65535") from None
    if scheme in WEB_SCHEMES and not parts.hostname:
        raise ValueError("a web URL needs a host name")
    if scheme == "mailto" and "@" not in parts.path:
        raise ValueError("a mailto: URL needs an address")
    return value


def _ascii_host(host: str) -> str:
    """A host name lowercased, in its IDNA (ASCII) form when it is not ASCII."""
    host = host.lower().rstrip(".")
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host  # not a name IDNA can write: compared as it is


def _encoded(text: str, safe: str) -> str:
    """``text`` percent-encoded one way: escapes decoded first, then UTF-8, upper-case hex."""
    return quote(unquote(text), safe=safe)


#: Fragments that point into a page rather than at a story of its own (a feed's links to the
#: comments, the jump to the rest of a post, a page's landmarks, text fragments).
_NAVIGATION_FRAGMENT = re.compile(
    r"(comments?|respond|reply|more|top|main|content|main-content|disqus_thread|"
    r"comment-\d+|utm_.*|:~:.*|xtor=.*|at_.*|)",
    re.I,
)


def canonical_url(url: str) -> str:
    """Return a form of ``url`` under which copies of the same page compare equal.

    A fragment stays when it names a story of its own (posts on one page, ``page.html#p01``
    and ``#p02``); one that points at comments, the rest of a post or a landmark goes.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = _ascii_host(parts.hostname or "").removeprefix("www.")
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    path = _encoded(parts.path, _PATH_SAFE).rstrip("/") or "/"
    query = sorted(
        (_encoded(key, _QUERY_SAFE), _encoded(value, _QUERY_SAFE))
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not key.lower().startswith("utm_") and key.lower() not in _TRACKING_PARAMS
    )
    fragment = "" if _NAVIGATION_FRAGMENT.fullmatch(parts.fragment) else parts.fragment
    # http and https copies of a page are the same story.
    return urlunsplit(
        (
            "https" if scheme in _DEFAULT_PORTS else scheme,
            host,
            path,
            "&".join(f"{key}={value}" for key, value in query),
            _encoded(fragment, _PATH_SAFE),
        )
    )


class CanonicalUrls(dict[str, str]):
    """The canonical form of each URL looked up, made once: one per selection or build.

    Selection compares an article's URL several times (ranking, copies, the plan, the caps);
    ``urls[url]`` makes its form on first use and remembers it for as long as its owner lives.
    """

    def __missing__(self, url: str) -> str:
        form = self[url] = canonical_url(url)
        return form


def tag_url(
    url: str, params: dict[str, str], skip_domains: list[str] | tuple[str, ...] = ()
) -> str:
    """Add ``params`` to a web link's query, keeping its own query (and its own utm_*/ref)."""
    parts = urlsplit(url)
    if parts.scheme not in WEB_SCHEMES or on_domains(url, skip_domains):
        return url
    existing = parse_qsl(parts.query, keep_blank_values=True)
    own = {key.lower() for key, _ in existing}
    if "ref" in own or any(key.startswith("utm_") for key in own):
        return url  # the link carries its own attribution: leave all of it alone
    added = [(key, value) for key, value in params.items() if value]
    query = parts.query + ("&" if parts.query and added else "") + urlencode(added)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def on_domains(url: str, domains: Iterable[str]) -> bool:
    """Whether ``url``'s host is one of ``domains`` or under one (case and IDN form ignored)."""
    host = _ascii_host(urlsplit(url).hostname or "")
    return any(host == (domain := _ascii_host(d)) or host.endswith("." + domain) for d in domains)
