"""The gettext catalogs: complete, compiled from their sources, and chosen for each locale."""

from __future__ import annotations

import importlib
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from digest import Newsletter, build_digest
from digest import labels as labels_module
from digest.labels import (
    CATALOGS,
    LABEL_MESSAGES,
    Message,
    available,
    catalog_for,
    labels_for,
    translate,
)

from .helpers import ArticleFactory, validated_with

PO_FILES = sorted(CATALOGS.glob("*/LC_MESSAGES/digest.po"))
ROOT = Path(labels_module.__file__).parent.parent


def extraction_sources() -> list[Path]:
    """The files ``pybabel extract -F babel.cfg`` reads."""
    text = (ROOT / "babel.cfg").read_text()
    return [ROOT / name for name in re.findall(r"^\[python: (\S+)\]$", text, re.MULTILINE)]


def messages_in(path: Path) -> set[tuple[str | None, str]]:
    """The messages a module holds at its top level (alone, or as a mapping's values)."""
    module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
    found: set[tuple[str | None, str]] = set()
    for value in vars(module).values():
        values = value.values() if isinstance(value, dict) else [value]
        found |= {(m.context, m.text) for m in values if isinstance(m, Message)}
    return found


def placeholders(text: str) -> set[str]:
    """The names of ``text``'s ``{placeholders}``."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_fourteen_languages_and_variants_have_catalogs() -> None:
    assert available() | {"en"} == {
        "en", "id", "de", "es", "fr", "it", "nl", "pt_BR", "pt_PT", "zh_Hans", "zh_Hant", "ja",
        "ar", "ru",
    }  # fmt: skip


def test_babel_cfg_names_every_module_that_marks_messages() -> None:
    marking = {
        path
        for path in (ROOT / "digest").rglob("*.py")
        if re.search(r"\b[NC]_\(", path.read_text(encoding="utf-8"))
    }
    assert marking <= set(extraction_sources())
    pages = {"labels.py", "confirmation.py", "app.py", "preferences.py", "signup.py"}
    assert pages <= {path.name for path in marking}


def test_the_template_lists_exactly_the_messages_in_the_code() -> None:
    extracted = {
        (context, message)
        for source in extraction_sources()
        for _, message, _, context in extract_from_file(
            "python", str(source), keywords={"N_": None, "C_": ((1, "c"), 2)}
        )
    }
    with (CATALOGS / "digest.pot").open("rb") as handle:
        template = {(m.context, m.id) for m in read_po(handle) if m.id}
    expected = set().union(*(messages_in(source) for source in extraction_sources()))
    assert {(m.context, m.text) for m in LABEL_MESSAGES.values()} <= expected
    assert extracted == template == expected


@pytest.mark.parametrize("po", PO_FILES, ids=lambda p: p.parent.parent.name)
def test_each_catalog_is_complete_and_compiled(po: Path) -> None:
    with po.open("rb") as handle:
        source = read_po(handle)
    with po.with_suffix(".mo").open("rb") as handle:
        compiled = read_mo(handle)
    translated = {(m.context, m.id): m.string for m in source if m.id}
    assert translated == {(m.context, m.id): m.string for m in compiled if m.id}, (
        f"{po.with_suffix('.mo')} is older than its .po: run pybabel compile -d digest/locales "
        "-D digest"
    )
    with (CATALOGS / "digest.pot").open("rb") as handle:
        template = {(m.context, m.id) for m in read_po(handle) if m.id}
    assert set(translated) == template, f"{po} is behind digest.pot: run pybabel update"
    for (_, message), translation in translated.items():
        assert translation, f"{po}: {message!r} is not translated"
        assert isinstance(message, str) and isinstance(translation, str), (po, message)
        assert placeholders(message) == placeholders(translation), (po, message, translation)
    assert not any(m.fuzzy for m in source if m.id)


@pytest.mark.parametrize("catalog", sorted(available()))
def test_every_message_reads_in_every_catalog_with_its_placeholders_filled(catalog: str) -> None:
    with (CATALOGS / "digest.pot").open("rb") as handle:
        template = [m for m in read_po(handle) if m.id]
    with (CATALOGS / catalog / "LC_MESSAGES" / "digest.mo").open("rb") as handle:
        compiled = {
            m.id if m.context is None else f"{m.context}\x04{m.id}" for m in read_mo(handle)
        }
    for entry in template:
        assert isinstance(entry.id, str)
        message = Message(entry.id, entry.context)
        key = message.text if message.context is None else f"{message.context}\x04{message.text}"
        assert key in compiled, f"{catalog}: {message.text!r} is not in the .mo"
        text = translate(message, catalog)
        values = {name: f"<{name}>" for name in placeholders(message.text)}
        filled = text.format(**values)
        assert all(value in filled for value in values.values()), (catalog, filled)


@pytest.mark.parametrize(
    ("locale", "catalog", "note"),
    [
        ("en_US", "en", None),
        ("id_ID", "id", None),
        ("de_AT", "de", None),
        ("pt_BR", "pt_BR", None),
        ("pt", "pt_PT", "locale 'pt' has no catalog; labels are in pt_PT"),
        ("pt_AO", "pt_PT", "locale 'pt_AO' has no catalog; labels are in pt_PT"),
        ("zh_CN", "zh_Hans", None),
        ("zh_TW", "zh_Hant", None),
        ("zh_HK", "zh_Hant", None),
        ("sw", "en", "locale 'sw' has no catalog; labels are in English"),
    ],
)
def test_the_nearest_catalog(locale: str, catalog: str, note: str | None) -> None:
    choice = catalog_for(locale)
    assert (choice.catalog, choice.note) == (catalog, note)


def test_a_fallback_is_said_once_in_the_build(
    make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    swahili = newsletter.model_copy(update={"locale": "sw"})
    digest = build_digest(
        [make_article(featured=True)], swahili, make_article().published_at.date()
    )
    notes = [f.message for f in digest.findings if f.rule == "locale"]
    assert notes == ["locale 'sw' has no catalog; labels are in English"]


def test_newsletter_labels_still_override_the_catalog() -> None:
    labels = labels_for("de", {"read_more": "Zum Artikel"})
    assert labels["read_more"] == "Zum Artikel" and labels["unsubscribe"] == "Abbestellen"


def test_a_mistyped_label_key_names_the_nearest(newsletter: Newsletter) -> None:
    with pytest.raises(ValueError, match="unknown label 'unsubcribe'; did you mean 'unsubscribe'"):
        validated_with(newsletter, labels={"unsubcribe": "Stop"})
