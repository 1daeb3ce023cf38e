"""Every catalog's words are in its own script, and Chinese in its own form (Simplified or Traditional).

A letter's script comes from its Unicode name (``unicodedata``). Which Chinese characters exist in
only one form comes from OpenCC's character tables (``tests/fixtures/opencc``, Apache-2.0): a
character OpenCC converts to Traditional and never keeps is Simplified only, and the reverse.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

import pytest

from digest import Newsletter, Quote, build_digest
from digest.labels import LABEL_MESSAGES, available, catalog_for, labels_for, translate

from .helpers import ArticleFactory, validated_with
from .htmltools import read_page

OPENCC = Path(__file__).parent / "fixtures" / "opencc"

#: The scripts each catalog's letters may be in (placeholders aside). A new catalog names its own.
SCRIPTS: Mapping[str, frozenset[str]] = {
    "en": frozenset({"Latin"}),
    "de": frozenset({"Latin"}),
    "es": frozenset({"Latin"}),
    "fr": frozenset({"Latin"}),
    "id": frozenset({"Latin"}),
    "it": frozenset({"Latin"}),
    "nl": frozenset({"Latin"}),
    "pt_BR": frozenset({"Latin"}),
    "pt_PT": frozenset({"Latin"}),
    "ru": frozenset({"Cyrillic"}),
    "ar": frozenset({"Arabic"}),
    "ja": frozenset({"Han", "Hiragana", "Katakana"}),
    "zh_Hans": frozenset({"Han"}),
    "zh_Hant": frozenset({"Han"}),
}

#: What a label may hold besides its language's words: the placeholders the code fills in.
EXCEPTED = ("{name}", "{number}")

#: The first word of a letter's Unicode name, by script.
_NAME_SCRIPTS = {
    "LATIN": "Latin",
    "CYRILLIC": "Cyrillic",
    "ARABIC": "Arabic",
    "HIRAGANA": "Hiragana",
    "KATAKANA": "Katakana",
    # The prolonged sound mark (ー) is in both kana.
    "KATAKANA-HIRAGANA": "Katakana",
    # 々, the iteration mark Japanese writes after a kanji.
    "IDEOGRAPHIC": "Han",
    # º and ª, as in "n.º" (Unicode counts them as Latin).
    "MASCULINE": "Latin",
    "FEMININE": "Latin",
}


def script_of(letter: str) -> str:
    """The script of one letter, from its Unicode name."""
    name = unicodedata.name(letter, "")
    if name.startswith("CJK UNIFIED IDEOGRAPH"):
        return "Han"
    return _NAME_SCRIPTS.get(name.split(" ")[0], name or f"U+{ord(letter):04X}")


def letters(text: str) -> str:
    """The letters of ``text``, placeholders taken out."""
    for placeholder in EXCEPTED:
        text = text.replace(placeholder, "")
    return "".join(ch for ch in text if unicodedata.category(ch).startswith("L"))


def _one_form_only(table: str) -> frozenset[str]:
    """The characters an OpenCC table converts and never keeps as they are."""
    only = set()
    for line in (OPENCC / table).read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        key, values = line.split("\t", 1)
        if key not in values.split(" "):
            only.add(key)
    return frozenset(only)


@cache
def simplified_only() -> frozenset[str]:
    """Characters only Simplified Chinese writes (阅, 读, 订, 闻, …)."""
    return _one_form_only("STCharacters.txt")


@cache
def traditional_only() -> frozenset[str]:
    """Characters only Traditional Chinese writes (閱, 讀, 訂, 聞, …)."""
    return _one_form_only("TSCharacters.txt")


#: The characters a catalog of each Chinese form must not hold.
OTHER_FORM = {"zh_Hans": traditional_only, "zh_Hant": simplified_only}


def test_the_tables_tell_the_forms_apart() -> None:
    assert set("阅读全文退订更多新闻") & traditional_only() == set()
    assert set("阅读订闻") <= simplified_only()
    assert set("閱讀訂聞週") <= traditional_only()
    assert set("閱讀全文取消訂閱更多新聞") & simplified_only() == set()
    # Characters both forms write (全, 文, 更, 多, 后 as "queen") are in neither list.
    assert set("全文更多后") & (simplified_only() | traditional_only()) == set()


def test_scripts_are_read_from_unicode_names() -> None:
    assert [script_of(c) for c in "aé\u0421سあアー々閱"] == [
        "Latin", "Latin", "Cyrillic", "Arabic", "Hiragana", "Katakana", "Katakana", "Han", "Han"
    ]  # fmt: skip
    assert letters("第 {number} 期 · “Photo” n.º") == "第期Photonº"
    assert script_of("º") == "Latin"


def test_every_catalog_names_its_script() -> None:
    assert available() | {"en"} <= SCRIPTS.keys()
    assert "zh_Hant" in available()


@pytest.mark.parametrize("catalog", sorted(SCRIPTS))
def test_every_label_is_in_the_catalogs_script(catalog: str) -> None:
    assert catalog == "en" or catalog in available(), f"no compiled catalog {catalog!r}"
    strays = {
        (key, text, ch, script_of(ch))
        for key, message in LABEL_MESSAGES.items()
        for text in [translate(message, catalog)]
        for ch in letters(text)
        if script_of(ch) not in SCRIPTS[catalog]
    }
    assert not strays, f"{catalog}: letters outside {sorted(SCRIPTS[catalog])}: {sorted(strays)}"
    if catalog in OTHER_FORM:
        wrong = OTHER_FORM[catalog]()
        mixed = {
            (key, text, ch)
            for key, message in LABEL_MESSAGES.items()
            for text in [translate(message, catalog)]
            for ch in text
            if ch in wrong
        }
        assert not mixed, f"{catalog}: characters of the other Chinese form: {sorted(mixed)}"


@pytest.mark.parametrize(
    ("locale", "catalog"),
    [
        ("zh_TW", "zh_Hant"),
        ("zh-TW", "zh_Hant"),
        ("zh_HK", "zh_Hant"),
        ("zh_MO", "zh_Hant"),
        ("zh_Hant", "zh_Hant"),
        ("zh_Hant_HK", "zh_Hant"),
        ("zh", "zh_Hans"),
        ("zh_CN", "zh_Hans"),
        ("zh_SG", "zh_Hans"),
        ("zh_Hans", "zh_Hans"),
        ("zh_Hans_HK", "zh_Hans"),
    ],
)
def test_each_chinese_locale_takes_its_own_form(locale: str, catalog: str) -> None:
    choice = catalog_for(locale)
    assert (choice.catalog, choice.note) == (catalog, None)


def test_hong_kong_and_taiwan_read_traditional_words() -> None:
    for locale in ("zh_TW", "zh_HK", "zh_MO"):
        labels = labels_for(locale)
        assert (labels["read_more"], labels["unsubscribe"], labels["more_news"]) == (
            "閱讀全文",
            "取消訂閱",
            "更多新聞",
        )
        assert (labels["quote_open"], labels["quote_close"]) == ("「", "」")
    assert labels_for("zh_CN")["unsubscribe"] == "退订"


def test_a_taiwanese_edition_is_in_traditional_chinese(
    make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    taiwan = validated_with(
        newsletter,
        locale="zh_TW",
        timezone="Asia/Taipei",
        layout={"max_sections": 2},
        brand={"social": [{"label": "Facebook", "url": "https://facebook.example/weekly"}]},
    )
    published = datetime(2026, 11, 20, 4, 30, tzinfo=UTC)
    articles = [
        make_article(
            title="臺北捷運週末延長營運",
            summary="臺北捷運公司宣布，跨年夜當天各線延長營運至凌晨。",  # noqa: RUF001
            section="交通",
            published_at=published,
            featured=True,
        ),
        make_article(title="高雄港貨櫃量創新高", section="經濟", published_at=published),
        make_article(title="花蓮縣舉辦國際石雕藝術季", section="文化", published_at=published),
        make_article(title="中央氣象署發布低溫特報", section="天氣", published_at=published),
    ]
    quote = Quote(text="學而時習之，不亦說乎？", author="孔子")  # noqa: RUF001
    digest = build_digest(articles, taiwan, date(2026, 11, 23), quotes=[quote])
    assert not [f for f in digest.findings if f.rule == "locale"]
    page = read_page(digest.html)
    shown = "\n".join(page.texts)
    assert page.html_lang == "zh-Hant-TW"
    for words in ("閱讀全文", "取消訂閱", "更多新聞", "追蹤我們", "您訂閱了", "本週金句", "「學而"):
        assert words in shown, words
    for words in ("閱讀全文: https://example.org/story/", "取消訂閱", "更多新聞"):
        assert words in digest.text, words
    assert digest.preheader.startswith("本期還有: ")
    for part, text in (("html", shown), ("text", digest.text), ("preheader", digest.preheader)):
        simplified = sorted(set(text) & simplified_only())
        assert not simplified, f"Simplified-only characters in the {part}: {simplified}"


@pytest.mark.parametrize("catalog", sorted(SCRIPTS))
def test_read_more_about_leaves_the_colon_to_the_template(catalog: str) -> None:
    """The button's label is read out as "Read more about: <title>"; the template adds ": "."""
    text = translate(LABEL_MESSAGES["read_more_about"], catalog)
    assert not text.rstrip().endswith((":", "\uff1a")), f"{catalog}: {text!r}"
