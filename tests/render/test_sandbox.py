"""Template resources bounded for real: every route to a huge string, a long render or a file
outside the template folders fails with a TemplateError, within a small memory peak."""

from __future__ import annotations

import os
import tracemalloc
from datetime import date
from pathlib import Path

import pytest

from digest import Newsletter, RenderOptions, TemplateError, build_digest

from ..helpers import ArticleFactory

ON = date(2026, 11, 23)
PEAK_LIMIT = 96 * 1024 * 1024

VECTORS = {
    "format-width": "{{ '{:1500000000}'.format('x') }}",
    "format-width-nested": "{{ '{:{w}}'.format('x', w=1500000000) }}",
    "format-many-fields": "{{ ('{0:99999}' * 2000).format('x') }}",
    "format-map": "{{ ('{a:99999}' * 2000).format_map({'a': 'x'}) }}",
    "percent-width": "{{ '%1500000000s' % 'x' }}",
    "percent-many": "{{ ('%(a)s' * 100000) % {'a': 'x' * 1000} }}",
    "format-filter": "{{ ('%(a)s' * 100000)|format(a='x' * 1000) }}",
    "repeat": "{{ 'x' * 1500000000 }}",
    "tilde-doubling": (
        "{% set a = 'x' * 900000 %}{% set b = a ~ a %}{% set c = b ~ b %}{{ c|length }}"
    ),
    "plus": "{% set a = 'x' * 900000 %}{{ (a + a)|length }}",
    "nested-replace": "{% set a = 'x' * 1000 %}{{ a.replace('x', a).replace('x', a)|length }}",
    "replace-filter": "{{ ('x' * 1000)|replace('x', 'y' * 1000)|replace('y', 'zz')|length }}",
    "replace-empty": "{{ ('x' * 5000).replace('', 'y' * 1000)|length }}",
    "zfill-replace": "{{ 'x'.zfill(100000).replace('0', 'x' * 100)|length }}",
    "expandtabs": "{{ ('\\t' * 100000).expandtabs(100000)|length }}",
    "center-replace": "{{ 'x'.center(100000).replace(' ', 'yy' * 50)|length }}",
    "ljust-rjust": "{{ ('x'.ljust(100000) ~ 'y'.rjust(100000)).replace(' ', 'abcdefghij')|length }}",
    "indent": "{{ ('\\n' * 999999)|indent(1500)|length }}",
    "indent-string": "{{ ('\\n' * 999999)|indent('abcdefghij' * 100)|length }}",
    "join": "{{ (['x' * 100000] * 100)|join|length }}",
    "join-method": "{{ ''.join(['x' * 100000] * 100)|length }}",
    "wordwrap": "{{ ('x ' * 400000)|wordwrap(1, wrapstring='y' * 1000)|length }}",
    "translate": "{{ ('x' * 100000).translate({120: 'y' * 1000})|length }}",
    "urlencode-chain": ("{{ ('%' * 900000)|urlencode|urlencode|urlencode|urlencode|length }}"),
    "huge-number": "{{ 'x'.center(10 ** 9) }}",
    "exponent": "{{ 9 ** 99999 }}",
    # What a namespace, list or dict gathers is measured with what it holds.
    "namespace-list": (
        "{% set ns = namespace(l=[]) %}{% set big = 'x' * 900000 %}"
        "{% for i in range(3000) %}{% set ns.l = ns.l + [big ~ i] %}{% endfor %}{{ ns.l|length }}"
    ),
    "namespace-dict": (
        "{% set ns = namespace(d={}) %}{% set big = 'x' * 900000 %}{% for i in range(3000) %}"
        "{% set ns.d = dict(ns.d, **{'k' ~ i: big ~ i}) %}{% endfor %}{{ ns.d|length }}"
    ),
    "nested-lists": (
        "{% set ns = namespace(l=[]) %}{% set big = 'x' * 600000 %}"
        "{% for i in range(50) %}{% set ns.l = [ns.l, big ~ i] %}{% endfor %}{{ ns.l|length }}"
    ),
    # Generators drained by a filter are metered item by item.
    "map-join": "{{ range(100000)|map('center', 100000)|join|length }}",
    "map-list": "{{ range(100000)|map('center', 100000)|list|length }}",
    "map-sort": "{{ range(100000)|map('center', 100000)|sort|first|length }}",
    # Single calls that would run long or grow past any bound in one step.
    "lipsum": "{{ lipsum(100000, false, 20, 100)|length }}",
    "tower-of-powers": "{{ (((10 ** 100) ** 100) ** 100)|string|length }}",
    "squaring": (
        "{% set ns = namespace(n=7) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}"
        "{% endfor %}{{ ns.n > 0 }}"
    ),
}


def render_with(tmp_path: Path, source: str, newsletter: Newsletter, article: object) -> str:
    """Build with ``source`` as the subject template; the subject it made."""
    (tmp_path / "subject.txt.j2").write_text(source, encoding="utf-8")
    options = RenderOptions(template_dir=tmp_path)
    return build_digest([article], newsletter, ON, options=options).subject  # type: ignore[list-item]


@pytest.mark.parametrize("source", list(VECTORS.values()), ids=list(VECTORS))
def test_every_route_to_a_huge_string_is_refused_within_a_small_peak(
    tmp_path: Path, source: str, newsletter: Newsletter, make_article: ArticleFactory
) -> None:
    article = make_article()
    tracemalloc.start()
    try:
        with pytest.raises(
            TemplateError, match=r"subject\.txt\.j2: .*(characters|large|number|bits)"
        ):
            render_with(tmp_path, source, newsletter, article)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK_LIMIT, f"peak {peak / 2**20:.1f} MiB"


@pytest.mark.parametrize(
    "source",
    [
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% macro f(n) %}{% for i in range(10) %}{{ f(n) if n else '' }}{% endfor %}{% endmacro %}"
        "{% for i in range(100000) %}{{ f(0) }}{% endfor %}",
        "{% for i in range(100000) %}{{ ('x' * 100000).count('y') }}{% endfor %}",
    ],
    ids=["nested-loops", "macros", "busy-calls"],
)
def test_a_render_stops_at_its_time_limit(
    tmp_path: Path, source: str, newsletter: Newsletter, make_article: ArticleFactory
) -> None:
    (tmp_path / "subject.txt.j2").write_text(source, encoding="utf-8")
    options = RenderOptions(template_dir=tmp_path, time_limit=0.5)
    with pytest.raises(TemplateError, match="time limit"):
        build_digest([make_article()], newsletter, ON, options=options)


def test_recursion_is_an_error_not_a_crash(
    tmp_path: Path, newsletter: Newsletter, make_article: ArticleFactory
) -> None:
    source = "{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}"
    with pytest.raises(TemplateError, match="Recursion"):
        render_with(tmp_path, source, newsletter, make_article())


def test_reasonable_templates_still_work(
    tmp_path: Path, newsletter: Newsletter, make_article: ArticleFactory
) -> None:
    source = (
        "{{ '{:>10}|{:.3}'.format(newsletter.name[:4], 'abcdef') }} "
        "{{ ['a', 'b']|join('-') }} {{ 'x'.center(5) ~ 'y'|indent(2) }} "
        "{{ '%s/%d'|format('p', 3) }} {{ 'ab'.replace('a', 'c') }} {{ 123456789 }} "
        "{% set ns = namespace(seen=[]) %}{% for s in ['x', 'y'] %}"
        "{% set ns.seen = ns.seen + [s] %}{% endfor %}{{ ns.seen|join }} {{ 2 ** 64 }} "
        "{{ range(3)|map('string')|join(',') }} {{ dict(a=1)|length }}"
    )
    subject = render_with(tmp_path, source, newsletter, make_article())
    # The subject is one line, its spaces folded.
    assert subject == ("Test|abc a-b x y p/3 cb 123456789 xy 18446744073709551616 0,1,2 1")


@pytest.mark.parametrize("how", ["include", "template", "subfolder"])
def test_symlinks_in_the_template_folder_are_refused(
    tmp_path: Path, how: str, newsletter: Newsletter, make_article: ArticleFactory
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:SECRET", encoding="utf-8")
    templates = tmp_path / "templates"
    templates.mkdir()
    if how == "include":
        os.symlink(secret, templates / "evil.j2")
        (templates / "subject.txt.j2").write_text("{% include 'evil.j2' %}", encoding="utf-8")
    elif how == "template":
        os.symlink(secret, templates / "subject.txt.j2")
    else:
        os.symlink(tmp_path, templates / "up")
        (templates / "subject.txt.j2").write_text("{% include 'up/secret.txt' %}")
    with pytest.raises(TemplateError, match="symbolic link"):
        build_digest(
            [make_article()], newsletter, ON, options=RenderOptions(template_dir=templates)
        )


@pytest.mark.parametrize("name", ["../secret.txt", "/etc/passwd", "default/../../secret.txt"])
def test_includes_outside_the_folders_are_not_found(
    tmp_path: Path, name: str, newsletter: Newsletter, make_article: ArticleFactory
) -> None:
    (tmp_path / "secret.txt").write_text("SECRET", encoding="utf-8")
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "subject.txt.j2").write_text(f"{{% include '{name}' %}}", encoding="utf-8")
    with pytest.raises(TemplateError, match="not found"):
        build_digest(
            [make_article()], newsletter, ON, options=RenderOptions(template_dir=str(templates))
        )
