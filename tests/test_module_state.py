"""No module-global caches: per-input results are remembered by an object its caller owns.

The caches allowed at module level are listed here, each with why it may stay; a new
``functools.cache`` or ``lru_cache`` anywhere in the package fails until it is argued for.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "digest"

#: module:function -> why it may be a module-level cache.
ALLOWED = {
    # Shipped package data, read once (no argument, or one per shipped file).
    "check:caniemail": "the shipped caniemail.json, read once",
    "labels:available": "the list of shipped catalogs, read once",
    "labels:_translations": "one shipped .mo catalog per name: at most the catalogs shipped",
    "labels:every_translation": "one label in every shipped catalog: at most the labels there are",
    "feeds/trimming:clutter": "the shipped clutter patterns, read once",
    "feeds/dates:_letter": "a pattern made once from Unicode's letters",
    "feeds/dates:_run_pattern": "a pattern made once",
    "feeds/dates:_parts": "a pattern made once",
    "feeds/dates:_names": "CLDR month and weekday names of one language (Babel's shipped data)",
    "feeds/dates:_day_periods": "CLDR day periods of some languages (Babel's shipped data)",
    "delivery/smtp:_tls_context": "the default TLS context (the system's certificates), made once",
    # Per-input memos still at module level, each bounded.
    "addresses:_domain": "a domain checked once (4,096 at most): 24 µs each, a list of a "
    "million readers shares a few thousand; moving it onto the reader list needs the Reader "
    "model's validator to take one",
    "render/renderer:_environments": "compiled templates of one list of folders (16 at most): "
    "a build makes up to four renderers of the same templates, about 50 ms each to compile",
    "mail/mime/read:_address_of": "the last few sender lines' addresses (64 at most)",
}

_CACHES = {"cache", "lru_cache", "cached"}


def _is_cache(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
    return name in _CACHES


def module_caches(source: str, module: str) -> set[str]:
    """``module:function`` for each function of ``source`` under a cache decorator."""
    return {
        f"{module}:{node.name}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and any(_is_cache(decorator) for decorator in node.decorator_list)
    }


def package_caches() -> set[str]:
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        module = path.relative_to(PACKAGE).with_suffix("").as_posix()
        found |= module_caches(path.read_text(), module)
    return found


def test_every_module_level_cache_is_one_allowed() -> None:
    new = sorted(package_caches() - set(ALLOWED))
    assert not new, (
        f"module-level caches not allowed: {', '.join(new)}; keep per-input results on an "
        "object the caller owns (as urls.CanonicalUrls), or argue for it in ALLOWED"
    )


@pytest.mark.parametrize(
    "source",
    [
        "from functools import lru_cache\n@lru_cache(maxsize=8)\ndef f(x): return x",
        "import functools\n@functools.cache\ndef f(x): return x",
        "from functools import cache\nclass A:\n    @cache\n    def f(self, x): return x",
    ],
)
def test_the_scan_finds_a_cache_however_it_is_written(source: str) -> None:
    assert module_caches(textwrap.dedent(source), "m") == {"m:f"}


def test_the_canonical_urls_of_one_selection_are_remembered_by_its_owner_only() -> None:
    from digest.urls import CanonicalUrls, canonical_url

    first, second = CanonicalUrls(), CanonicalUrls()
    url = "HTTP://WWW.Example.org/a/?utm_source=x"
    assert first[url] == canonical_url(url) == "https://example.org/a"
    assert url in first and url not in second
    assert not hasattr(canonical_url, "cache_info")
