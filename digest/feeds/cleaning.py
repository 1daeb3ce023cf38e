"""Feed text as an editor would take it: mojibake repaired, "read more" trailers dropped, cut.

Feeds carry text that was encoded twice ("Lâ€™OrÃ©al"), summaries that end in their own
"Continue reading…" link or a "The post … appeared first on …" line, and whole articles where
a teaser is wanted. These functions take HTML or text from a feed and return what a reader
should see; the sanitiser in ``models`` then keeps only safe markup. The clutter rules, the
trailers and the cut at a length are ``digest.feeds.trimming``.
"""

from __future__ import annotations

import html
import re

import ftfy
import lxml.html

from digest.feeds.trimming import Clutter, clutter, cut_tree, drop_trailers, is_trailer
from digest.markup import fragment_html, html_fragment, html_to_text

__all__ = [
    "Clutter",
    "bare_address_lines",
    "clean_byline",
    "clean_feed_html",
    "clutter",
    "drop_repeated",
    "feed_summary",
    "feed_text",
    "fix_text",
    "is_comment",
    "is_picture_address",
    "section_name",
    "shown_address",
]


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def clean_byline(value: str) -> str | None:
    """An author as a reader should see it: ``Name (noreply@blogger.com)`` is ``Name``."""
    text = _EMAIL.sub("", fix_text(value))
    text = re.sub(r"\(\s*\)|<\s*>", "", text).strip(" ,;")
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    return " ".join(text.split()) or None


_PATH_SEPARATORS = re.compile(r"\s*(?:/|»|\u203a|>|\|)\s*")


def section_name(value: str) -> str:
    """A feed's category as a heading.

    A path (``Technology/Web``, ``News » World``) gives its last part; a site's word for
    "section" before it (``Раздел Новости``, from ``clutter.toml``) is dropped; a name all in
    lower case is capitalised, and one of two or three letters (``ai``, ``eu``) written in
    capitals, as such names are acronyms. ``section_map`` in the config renames any of them.
    """
    parts = [part for part in _PATH_SEPARATORS.split(fix_text(value)) if part.strip()]
    name = " ".join((parts[-1] if parts else value).split())
    for prefix in clutter().section_prefixes:
        if name.casefold().startswith(prefix.casefold() + " ") and len(name) > len(prefix) + 1:
            name = name[len(prefix) + 1 :].strip()
            break
    if name and name == name.lower() and any(ch.isalpha() for ch in name):
        name = name.upper() if len(name) <= 3 and name.isascii() else name[0].upper() + name[1:]
    return name or value


def is_comment(title: str, url: str) -> bool:
    """Whether a feed item is a reader's comment rather than a story (``clutter.toml``)."""
    rules = clutter()
    fragment = url.partition("#")[2]
    return any(rule.search(title) for rule in rules.comment_titles) or (
        bool(fragment) and any(rule.search(fragment) for rule in rules.comment_fragments)
    )


# The address of a picture file itself (i.redd.it, i.imgur.com, any host): what a post's text
# links to when it shares a full-size picture. A query may follow (preview.redd.it?width=).
_PICTURE_ADDRESS = re.compile(
    r"https?://[^\s<>\"']+?\.(?:jpe?g|png|gif|webp|avif)(?:\?[^\s<>\"']*)?", re.I
)


def is_picture_address(text: str, anywhere: bool = False) -> bool:
    """Whether ``text`` is the web address of a picture file alone (or holds one, ``anywhere``)."""
    if anywhere:
        return bool(_PICTURE_ADDRESS.search(text))
    return bool(_PICTURE_ADDRESS.fullmatch(text.strip()))


def shown_address(link: lxml.html.HtmlElement) -> str | None:
    """A link's address when the link shows its own address (or no words) and it is a picture."""
    href = (link.get("href") or "").strip()
    words = " ".join(link.text_content().split())
    if link.find(".//img") is not None or not is_picture_address(href):
        return None
    shown = words.rstrip("…").removesuffix("...")
    bare = href.split("://", 1)[-1]
    if not words or words == href or (shown and (href.startswith(shown) or bare.startswith(shown))):
        return href
    return None


def bare_address_lines(root: lxml.html.HtmlElement) -> list[str]:
    """The lines of text below ``root`` (outside links) that are a picture's address alone."""
    lines = []
    for element in root.iter():
        texts = [element.tail]
        if isinstance(element.tag, str) and element.tag != "a":
            texts.append(element.text)
        for text in texts:
            lines += [line for line in (text or "").splitlines() if is_picture_address(line)]
    return lines


def fix_text(value: str) -> str:
    """Repair text that was decoded with the wrong encoding (mojibake), keeping its quotes."""
    if value.isascii():
        return value
    return ftfy.fix_encoding(value)


# The closing tag of an element a title or summary is marked up with: text that has one is
# HTML whatever the format said (feedparser guesses the same way for RSS).
_CLOSING_TAG = re.compile(
    r"</(?:a|abbr|b|bdi|big|blockquote|br|cite|code|del|div|em|font|h[1-6]|i|ins|kbd|li|mark"
    r"|ol|p|pre|q|s|small|span|strike|strong|sub|sup|time|tt|u|ul|var)\s*>",
    re.I,
)


def feed_text(value: str, is_html: bool = False) -> str:
    """A title or summary of any feed format as text: markup read, references decoded once.

    ``value`` is what the format's own syntax gives (XML, JSON or CSV already decoded). It is
    read as HTML when the format says so or it has closing tags; otherwise only its character
    references are decoded, once, as an HTML parser reads them in text (``&copy`` without its
    semicolon too): ``&amp;amp;`` is ``&amp;``, and ``AT&T`` stays as it is. Mojibake is
    repaired before and after, for references that spelled it out.
    """
    text = fix_text(value)
    read = html_to_text(text) if is_html or _CLOSING_TAG.search(text) else html.unescape(text)
    return read if read == text else fix_text(read)


def feed_summary(value: str, is_html: bool = False) -> str:
    """A summary given as text, read as ``feed_text`` reads it, less a closing "Read more" line.

    The trailers ``clean_feed_html`` drops from a summary in HTML (``clutter.toml``) are dropped
    from one in text too, so that every format gives one item the same summary.
    """
    lines = feed_text(value, is_html).split("\n")
    while lines and (not lines[-1].strip() or is_trailer(lines[-1])):
        lines.pop()
    return "\n".join(lines)


def clean_feed_html(html: str, limit: int | None = None, title: str = "") -> str:
    """Repair a feed item's HTML: mojibake fixed, trailers dropped, cut after ``limit`` characters.

    The text is cut at a word boundary and ends with an ellipsis; the markup around it stays
    balanced. Pictures stay (the sanitiser drops them later); scripts and styles are dropped,
    and so are the bare addresses of pictures (``linked_pictures`` makes them the picture).
    ``title`` is the item's headline: a copy of it left at the top by a stray ``<title>`` goes.
    """
    if not html.strip():
        return ""
    root = html_fragment(fix_text(html))
    if root is None:
        return ""
    # A stray <title> (or a whole <head>) at the top is the page's, not the summary's.
    dropped = ("script", "style", "noscript", "iframe", "object", "title", "head", "meta", "link")
    for element in list(root.iter(*dropped)):
        element.drop_tree()
    if title:
        _drop_leading_headline(root, title)
    _drop_picture_addresses(root)
    drop_trailers(root)
    if limit is not None:
        cut_tree(root, limit)
    return fragment_html(root)


def _drop_leading_headline(root: lxml.html.HtmlElement, title: str) -> None:
    """Drop the headline a feed parser left at the top when it took the tags of a ``<title>``.

    feedparser's sanitiser removes ``<title>`` but keeps its words, so the summary opens with
    the headline run on to the text ("The bridge opensWe walked across."). The headline goes
    when it stands alone before the first element, or runs straight on to a capital letter.
    """
    text = root.text or ""
    opening = text.lstrip()
    headline = " ".join(title.split())
    if not headline or not " ".join(opening.split()).startswith(headline):
        return
    # Where the headline ends in the text, spacing inside it aside.
    end, matched = 0, 0
    while matched < len(headline) and end < len(opening):
        if opening[end].isspace() and headline[matched] == " ":
            while end < len(opening) and opening[end].isspace():
                end += 1
            matched += 1
        elif opening[end] == headline[matched]:
            end, matched = end + 1, matched + 1
        else:
            return
    rest = opening[end:]
    if rest.strip() and not rest[0].isupper():
        return  # the text goes on in the same sentence: a summary that repeats its headline
    if not rest.strip() and not len(root):
        return  # nothing but the headline: leave it for the caller to judge
    root.text = rest


def _drop_picture_addresses(root: lxml.html.HtmlElement) -> None:
    """Drop links that show a picture's own address, and lines that are one; emptied blocks go."""
    for link in list(root.iter("a")):
        parent = link.getparent()
        if parent is None or shown_address(link) is None:
            continue
        link.drop_tree()
        _drop_if_empty(parent, root)
    for element in list(root.iter()):
        slots = ["tail"] + (["text"] if isinstance(element.tag, str) and element.tag != "a" else [])
        for slot in slots:
            value = getattr(element, slot)
            if value and any(is_picture_address(line) for line in value.splitlines()):
                kept = [line for line in value.splitlines() if not is_picture_address(line)]
                setattr(element, slot, "\n".join(kept) if any(x.strip() for x in kept) else None)
    for element in list(root.iter("p", "div", "li", "span")):
        _drop_if_empty(element, root)


def _drop_if_empty(element: lxml.html.HtmlElement, root: lxml.html.HtmlElement) -> None:
    """Drop a block left with no words and no picture (never ``root`` itself)."""
    if element is root or element.getparent() is None or element.tag in ("td", "tr", "table"):
        return
    if not element.text_content().strip() and element.find(".//img") is None:
        element.drop_tree()


#: A paragraph in at least this share of a feed's items (and in three or more) is the feed's
#: own boilerplate (a sponsor line, a channel's description), not the item's news.
REPEATED_SHARE = 0.5


def drop_repeated(summaries: list[str | None]) -> int:
    """Drop the paragraphs that open or close most summaries of one feed alike; how many dropped.

    A video channel puts the same sponsor paragraph in every description; a site the same
    disclaimer. Paragraphs are compared by their text (case and spacing aside); one found in
    three summaries or more, and in half of those that have text, goes from all of them.
    ``summaries`` (HTML, or None) are changed in place.
    """
    parsed = [html_fragment(value) if value else None for value in summaries]
    blocks: dict[str, int] = {}
    for root in parsed:
        if root is not None:
            for text in {_block_text(child) for child in root if isinstance(child.tag, str)}:
                if text:
                    blocks[text] = blocks.get(text, 0) + 1
    having = sum(root is not None for root in parsed)
    repeated = {text for text, n in blocks.items() if n >= 3 and n >= having * REPEATED_SHARE}
    dropped = 0
    for index, root in enumerate(parsed):
        if root is None or not repeated:
            continue
        for child in [c for c in root if isinstance(c.tag, str)]:
            if _block_text(child) in repeated:
                child.drop_tree()
                dropped += 1
        summaries[index] = fragment_html(root) or None
    return dropped


def _block_text(element: lxml.html.HtmlElement) -> str:
    return " ".join(element.text_content().split()).casefold()
