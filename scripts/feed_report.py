"""Build one edition from each real feed in tests/fixtures/feeds/real and report what it shows.

    python scripts/feed_report.py

For each feed: items in the feed, articles read, items skipped (with the reasons), stories in
the edition, pictures shown against items that offer one, the inlined HTML size, and the
build's warnings.
"""

from __future__ import annotations

import sys
from pathlib import Path

import feedparser

from digest import Newsletter, build_digest
from digest.check import summarise
from digest.feeds.pictures import html_pictures
from digest.feeds.sources import Source, read_source

REAL = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "feeds" / "real"
# Each feed with the newsletter settings its newsroom would use.
FEEDS = {
    "guardian.rss": {"locale": "en_GB", "timezone": "Europe/London"},
    "feedburner.atom": {"locale": "en", "timezone": "America/Los_Angeles"},
    "content-encoded.rss": {"locale": "en", "timezone": "UTC"},
    "heise.atom": {"locale": "de", "timezone": "Europe/Berlin"},
    "uolNoticias.rss": {"locale": "pt_BR", "timezone": "America/Sao_Paulo"},
    "encoding-gb2312.xml": {"locale": "zh_CN", "timezone": "Asia/Shanghai"},
    "inessential.json": {"locale": "en_US", "timezone": "America/Los_Angeles"},
    "reddit-ollama.atom": {"locale": "en", "timezone": "UTC"},
    "blogger-4fsod.atom": {"locale": "en_US", "timezone": "America/Los_Angeles"},
    "youtube-google.atom": {"locale": "en_US", "timezone": "America/Los_Angeles"},
    "biorxiv.rdf": {"locale": "en_US", "timezone": "America/New_York"},
    "euc-jp.rdf": {"locale": "ja", "timezone": "Asia/Tokyo"},
    "samruby.atom": {"locale": "en_US", "timezone": "America/New_York"},
}


def offers_picture(entry: dict[str, object]) -> bool:
    """Whether a feed entry offers any picture at all (before pixels are weeded out)."""
    if entry.get("media_content") or entry.get("media_thumbnail"):
        return True
    enclosures = entry.get("enclosures") or []
    if any(str(e.get("type", "")).startswith("image/") for e in enclosures):  # type: ignore[attr-defined]
        return True
    html = " ".join(
        str(c.get("value", ""))
        for c in (entry.get("content") or [])  # type: ignore[attr-defined]
    ) + str(entry.get("summary", ""))
    return bool(html_pictures(html))


def main() -> int:
    """Print one block per feed."""
    for name, settings in FEEDS.items():
        path = REAL / name
        newsletter = Newsletter(
            name="Report",
            sender={"name": "Report", "address": "report@example.com"},  # type: ignore[arg-type]
            contact={  # type: ignore[arg-type]
                "postal_address": "1 Example Street",
                "unsubscribe_url": "https://example.com/unsubscribe",
            },
            **settings,  # type: ignore[arg-type]
        )
        if name.endswith(".json"):
            import json

            entries = json.loads(path.read_bytes())["items"]
            offered = sum(
                bool(e.get("image") or html_pictures(e.get("content_html", ""))) for e in entries
            )
        else:
            entries = feedparser.parse(path.read_bytes()).entries
            offered = sum(offers_picture(e) for e in entries)
        result = read_source(Source(path=path), newsletter)
        on = max(a.published_at for a in result.articles).astimezone(newsletter.zone).date()
        digest = build_digest(result.articles, newsletter, on)
        shown = digest.edition.articles
        skipped = [w for w in result.warnings if ": skipped" in w]
        print(f"{name} ({settings['locale']})")
        print(
            f"  items in feed: {len(entries)}; read: {len(result.articles)}; "
            f"skipped: {len(skipped)}"
        )
        print(f"  stories in the edition: {len(shown)} in {len(digest.edition.sections)} sections")
        print(
            f"  pictures: {sum(a.image_url is not None for a in result.articles)} real of "
            f"{offered} items offering one; {sum(a.image_url is not None for a in shown)} shown"
        )
        print(f"  HTML: {len(digest.html.encode()) / 1024:.1f} KB")
        noticed = summarise(f for f in digest.findings if f.severity != "info")
        for warning in [*result.warnings, *noticed]:
            print(f"  warning: {warning}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
