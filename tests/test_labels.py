"""The gettext catalogs: complete, compiled from their sources, and chosen for each locale."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from digest import Newsletter, build_digest
from digest import labels as labels_module
from digest.labels import CATALOGS, LABEL_MESSAGES, available, catalog_for, labels_for

from .helpers import ArticleFactory, validated_with

PO_FILES = sorted(CATALOGS.glob("*/LC_MESSAGES/digest.po"))


def test_fourteen_languages_and_variants_have_catalogs() -> None:
    assert available() | {"en"} == {
        "en", "id", "de", "es", "fr", "it", "nl", "pt_BR", "pt_PT", "zh_Hans", "zh_Hant", "ja",
        "ar", "ru",
    }  # fmt: skip


def test_the_template_lists_exactly_the_messages_in_the_code() -> None:
    extracted = {
        (context, message)
        for _, message, _, context in extract_from_file(
            "python",
            labels_module.__file__,
            keywords={"N_": None, "C_": ((1, "c"), 2)},
        )
    }
    with (CATALOGS / "digest.pot").open("rb") as handle:
        template = {(m.context, m.id) for m in read_po(handle) if m.id}
    expected = {(m.context, m.text) for m in LABEL_MESSAGES.values()}
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
    for (_, message), translation in translated.items():
        assert translation, f"{po}: {message!r} is not translated"
        for placeholder in ("{number}", "{name}"):
            assert (placeholder in message) == (placeholder in translation), (po, message)
    assert not any(m.fuzzy for m in source if m.id)


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
