"""The examples rendered as snapshots; regenerate with ``pytest --update-snapshots``."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest import email_bytes

from .helpers import EXAMPLE_EDITIONS, build_example
from .htmltools import read_page

SNAPSHOTS = Path(__file__).parent / "snapshots"


def assert_snapshot(output: bytes, snapshot: Path, update: bool) -> None:
    """Compare ``output`` with its snapshot, or rewrite the snapshot when asked to."""
    if update:
        snapshot.parent.mkdir(exist_ok=True)
        snapshot.write_bytes(output)
        pytest.skip(f"rewrote {snapshot.relative_to(SNAPSHOTS)}")
    assert snapshot.exists(), f"no snapshot yet: run pytest --update-snapshots ({snapshot})"
    assert output == snapshot.read_bytes(), (
        f"{snapshot.relative_to(SNAPSHOTS)} differs from its snapshot; if the change is "
        "intended, run pytest --update-snapshots and review the diff"
    )


@pytest.mark.parametrize("example", sorted(EXAMPLE_EDITIONS))
@pytest.mark.parametrize("part", ["html", "txt", "eml"])
def test_example_matches_snapshot(example: str, part: str, update_snapshots: bool) -> None:
    digest = build_example(example)
    parts = {"html": digest.html.encode(), "txt": digest.text.encode(), "eml": email_bytes(digest)}
    assert_snapshot(parts[part], SNAPSHOTS / f"{example}.{part}", update_snapshots)


#: The languages with a catalog of their own: the riverside edition is built in each.
LOCALES = [
    "en", "id", "de", "es", "fr", "it", "nl", "pt_BR", "pt_PT", "zh_Hans", "zh_Hant", "ja", "ar", "ru"
]  # fmt: skip


@pytest.mark.parametrize("locale", LOCALES)
def test_each_language_matches_its_snapshot(locale: str, update_snapshots: bool) -> None:
    digest = build_example("riverside", locale=locale)
    page = read_page(digest.html)
    # Each piece of text on one line, without the preheader's invisible filler.
    filler = str.maketrans("", "", "\u034f\u200c")
    visible = [" ".join(t.translate(filler).split()) for t in page.texts]
    visible = [line for line in visible if line]
    output = "\n".join(
        [
            f"Subject: {digest.subject}",
            f"Preheader: {digest.preheader}",
            f"<html lang={page.html_lang!r} dir={page.html_dir!r}>",
            "",
            "--- what the HTML shows ---",
            *visible,
            "",
            "--- the text part ---",
            digest.text,
        ]
    ).encode()
    assert_snapshot(output, SNAPSHOTS / "locales" / f"{locale}.txt", update_snapshots)
    assert not [f for f in digest.findings if f.rule == "locale"]
