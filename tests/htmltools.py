"""A small reader of rendered HTML for tests: text, links, images and tag structure."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Page:
    texts: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    images: list[dict[str, str | None]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    attributes: list[tuple[str, str]] = field(default_factory=list)
    html_lang: str | None = None
    html_dir: str | None = None
    headings: list[tuple[str, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.texts).split())


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._skip = 0
        self._heading: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.page.tags.append(tag)
        values = dict(attrs)
        self.page.attributes.extend((tag, name) for name, _ in attrs)
        if tag in ("style", "title", "head"):
            self._skip += 1
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._heading = (tag, [])
        if tag == "html":
            self.page.html_lang = values.get("lang")
            self.page.html_dir = values.get("dir")
        if tag == "a" and values.get("href"):
            self.page.links.append(values["href"] or "")
        if tag == "img":
            self.page.images.append(values)

    def handle_endtag(self, tag: str) -> None:
        if self._heading and tag == self._heading[0]:
            self.page.headings.append((tag, " ".join("".join(self._heading[1]).split())))
            self._heading = None
        if tag in ("style", "title", "head"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data: str) -> None:
        if self._heading:
            self._heading[1].append(data)
        if not self._skip and data.strip():
            self.page.texts.append(data)


def read_page(html: str) -> Page:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.page
