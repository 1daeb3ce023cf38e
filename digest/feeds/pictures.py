"""Pictures in feeds: gather every picture an item offers and pick the best real one.

Feeds offer pictures in many places (Media RSS, enclosures, JSON Feed ``image``, ``<img>`` in
the content) and mix real pictures with tracking pixels, share buttons, avatars and the site's
own logo. :func:`best_picture` keeps only real pictures and prefers the largest that suits an
email.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from digest.markup import html_fragment
from digest.pixels import is_pixel_size
from digest.urls import on_domains

__all__ = [
    "Picture",
    "best_picture",
    "html_pictures",
    "is_icon",
    "is_tracking_pixel",
    "linked_pictures",
    "looks_like_image",
    "picture",
    "size_in_url",
    "with_linked_picture",
]


#: The widest picture worth sending: twice the email's 600 px body, for sharp screens.
MAX_USEFUL_WIDTH = 1200


#: Pictures at least this wide are preferred when sizes are known.
GOOD_WIDTH = 300


#: A declared side below this is an icon, an avatar or a pixel, not a news picture.
MIN_SIDE = 100


# Hosts that serve counters, ad slots and redirect images rather than pictures.
_PIXEL_HOSTS = (
    "feeds.feedburner.com",
    "feedproxy.google.com",
    "feedsportal.com",
    "feeds.wordpress.com",
    "pixel.wp.com",
    "stats.wordpress.com",
    "feeds.feedblitz.com",
    "google-analytics.com",
    "doubleclick.net",
    "scorecardresearch.com",
    "quantserve.com",
    "pheedo.com",
)


# Paths that are counters whatever the host (Medium's stat beacon, feedsportal's mf.gif).
_PIXEL_PATHS = re.compile(
    r"(^|/)(mf\.gif|a2\.img|rc\.img|_/stat|~r/|~ff/|spacer\.gif|blank\.gif|pixel\.(gif|png)"
    r"|1x1\.(gif|png)|tracking\.gif|beacon)",
    re.I,
)


# Share buttons, social icons, emoji and avatars: hosts that serve nothing else.
_ICON_HOSTS = (
    "static.addtoany.com",
    "addtoany.com",
    "sharethis.com",
    "s.w.org",
    "gravatar.com",
    "platform.twitter.com",
    "abs.twimg.com",
    "static.xx.fbcdn.net",
    "feedburner.google.com",
)


# Paths of such pictures on any host: /icons/twitter.png, share-facebook.gif, /emoji/…
_ICON_PATHS = re.compile(
    r"(?:^|[/_.-])(?:icons?|share|sharing|social|emoji|smilies|avatars?|gravatar|"
    r"twitter|facebook|linkedin|whatsapp|pinterest|telegram|x-logo|feed-icon|rss-icon|"
    r"badge|button)(?:[/_.-]|\d|$)",
    re.I,
)


# A size written in the address: Blogger's /s72-c/ and =s72-c, /w72-h72/, 16x16, -150x150.
_URL_SQUARE = re.compile(r"(?:^|[/=_-])s(\d{2,4})(?:-c)?(?:[/=_.-]|$)", re.I)
_URL_SIZE = re.compile(r"(?:^|[/=_-])w(\d{2,4})-h(\d{2,4})|(?<![\d])(\d{2,4})x(\d{2,4})(?![\d])")


def size_in_url(url: str) -> tuple[int, int] | None:
    """The width and height an image address names (a CDN's resize or a thumbnail's name)."""
    parts = urlsplit(url)
    where = parts.path + ("?" + parts.query if parts.query else "")
    found = _URL_SIZE.search(where)
    if found is not None:
        width, height = (found.group(1), found.group(2)) if found.group(1) else found.group(3, 4)
        return int(width), int(height)
    square = _URL_SQUARE.search(parts.path)
    return (int(square.group(1)), int(square.group(1))) if square else None


def is_icon(item: Picture) -> bool:
    """A share button, social icon, emoji or avatar: by its host, its path or its small size."""
    if on_domains(item.url, _ICON_HOSTS) or _ICON_PATHS.search(urlsplit(item.url).path):
        return True
    size = (item.width, item.height) if item.width and item.height else size_in_url(item.url)
    return size is not None and min(size) < MIN_SIDE


_NOT_IMAGE_EXTENSIONS = (".mp3", ".mp4", ".m4a", ".m4v", ".mov", ".ogg", ".pdf", ".webm", ".wav")


_FILE_NAME = re.compile(r"[\w.-]+\.(jpe?g|png|gif|webp|img|avif)", re.I)


@dataclass(frozen=True)
class Picture:
    """A picture an item offers: its URL, declared size, description and credit."""

    url: str
    width: int | None = None
    height: int | None = None
    alt: str = ""
    credit: str = ""


def _size(value: object) -> int | None:
    text = str(value or "").strip().removesuffix("px")
    return int(text) if text.isdigit() and 0 < len(text) < 6 and int(text) > 0 else None


def picture(
    url: object,
    width: object = None,
    height: object = None,
    alt: object = "",
    credit: object = "",
    base: str = "",
) -> Picture | None:
    """A ``Picture`` from loosely typed feed values; None without a usable URL."""
    if not isinstance(url, str) or not url.strip():
        return None
    url = urljoin(base, url.strip()) if base else url.strip()
    description = clean_alt(alt)
    if description and _name_of(description) == _name_of(_file_stem(url)):
        description = ""  # the file's name, as a CMS fills alt in: no description at all
    declared = (_size(width), _size(height))
    # A size the address names (a CDN's resize, a thumbnail's name) when the feed gives none.
    named = size_in_url(url) if None in declared else None
    return Picture(
        url=url,
        width=declared[0] or (named[0] if named else None),
        height=declared[1] or (named[1] if named else None),
        alt=description,
        credit=_one_line(credit),
    )


# A camera's or a phone's file name: IMG_1234, DSC01234, PXL_20261130_…, WhatsApp Image …
_CAMERA_NAME = re.compile(
    r"(?:img|dsc|dscn|dcim|pxl|mvimg|gopr|whatsapp image)[\s_-]*\d[\d\s_-]*(?:at [\d.\s]+)?",
    re.I,
)


def _file_stem(url: str) -> str:
    """A picture's file name without its extension and a size suffix (``-1024x576``)."""
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return re.sub(r"[-_]\d{2,4}x\d{2,4}$|[-_]scaled$", "", stem)


def _name_of(text: str) -> str:
    """A file name or a text compared as words: case, separators and accents aside."""
    return " ".join(re.split(r"[\s_+-]+|%20", text.casefold())).strip()


def _one_line(value: object) -> str:
    """Feed text on one line, its mojibake repaired."""
    from digest.feeds.cleaning import fix_text

    return " ".join(fix_text(str(value or "")).split())


def clean_alt(value: object) -> str:
    """A description fit for alt text: one line, repaired, and not a file name."""
    text = _one_line(value)
    return "" if _FILE_NAME.fullmatch(text) or _CAMERA_NAME.fullmatch(text) else text[:300]


def looks_like_image(url: str, mime_type: str = "", medium: str = "") -> bool:
    """Whether a media URL is a picture, by its medium, its MIME type or its extension."""
    if medium:
        return medium.lower() == "image"
    if mime_type:
        return mime_type.lower().startswith("image/")
    path = urlsplit(url).path.lower()
    return not path.endswith(_NOT_IMAGE_EXTENSIONS)


def is_tracking_pixel(item: Picture) -> bool:
    """A counter or ad image: declared tiny, or served from a known pixel or redirect host."""
    if is_pixel_size(item.width, item.height):
        return True
    return on_domains(item.url, _PIXEL_HOSTS) or bool(_PIXEL_PATHS.search(urlsplit(item.url).path))


def html_pictures(html: str, base: str = "") -> list[Picture]:
    """The ``<img>`` pictures in an HTML fragment, in document order."""
    root = html_fragment(html) if "<img" in html.lower() else None
    if root is None:
        return []
    found = []
    for img in root.iter("img"):
        made = picture(
            img.get("src"),
            img.get("width"),
            img.get("height"),
            img.get("alt") or img.get("title"),
            base=base,
        )
        if made is not None:
            found.append(made)
    return found


def linked_pictures(html: str, base: str = "") -> list[Picture]:
    """The pictures a text gives as bare addresses: linked as their own words, or as plain text.

    A Reddit post shares a picture as ``<a href="https://i.redd.it/x.jpg">https://i.redd.it/x.jpg
    </a>``; other feeds put the address alone on a line.
    """
    from digest.feeds.cleaning import bare_address_lines, is_picture_address, shown_address

    root = html_fragment(html) if is_picture_address(html, anywhere=True) else None
    if root is None:
        return []
    found: list[Picture] = []
    for link in root.iter("a"):
        address = shown_address(link)
        made = picture(address, base=base) if address else None
        found += [made] if made is not None and made.url not in {p.url for p in found} else []
    for line in bare_address_lines(root):
        made = picture(line.strip(), base=base)
        found += [made] if made is not None and made.url not in {p.url for p in found} else []
    return found


def with_linked_picture(
    found: list[Picture], htmls: Iterable[str], base: str = ""
) -> list[Picture]:
    """The pictures of an item, the one its text links to by address first when it is the only one.

    The linked picture is full size, so it replaces copies of the same file (a Reddit preview,
    named like it); with other pictures about, or more than one linked, ``found`` stays as it is.
    """
    linked: dict[str, Picture] = {}
    for html in htmls:
        for item in linked_pictures(html, base):
            linked.setdefault(item.url, item)
    if len(linked) != 1:
        return found
    (only,) = linked.values()
    if any(_file_stem(item.url) != _file_stem(only.url) for item in found):
        return found
    return [only]


def best_picture(candidates: Iterable[Picture], exclude: Collection[str] = ()) -> Picture | None:
    """The best real picture: never a pixel, an icon (``is_icon``) or one of ``exclude``.

    ``exclude`` holds the feed's own logos.

    Among pictures of known width, the widest up to ``MAX_USEFUL_WIDTH`` that is at least
    ``GOOD_WIDTH`` wide; then the first of unknown size; then the widest small one.
    """
    real = [
        item
        for item in candidates
        if item.url not in exclude
        and not is_tracking_pixel(item)
        and not is_icon(item)
        and not (item.width is not None and item.width < MIN_SIDE)
        and not (item.height is not None and item.height < MIN_SIDE)
    ]
    good = [item for item in real if item.width is not None and item.width >= GOOD_WIDTH]
    if good:
        fitting = [
            item for item in good if item.width is not None and item.width <= MAX_USEFUL_WIDTH
        ]
        if fitting:
            return max(fitting, key=lambda item: item.width or 0)
        return min(good, key=lambda item: item.width or 0)
    unknown = [item for item in real if item.width is None]
    if unknown:
        return unknown[0]
    return max(real, key=lambda item: item.width or 0, default=None)


def with_description(chosen: Picture, alt: str, credit: str) -> Picture:
    """``chosen`` with the item's description and credit where it has none of its own."""
    return dataclasses.replace(
        chosen, alt=chosen.alt or clean_alt(alt), credit=chosen.credit or _one_line(credit)
    )
