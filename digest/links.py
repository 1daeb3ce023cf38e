"""Link tagging: UTM parameters on article links, keeping what each link already says."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .models import Article, Tracking, on_domains
from .select import Edition

__all__ = ["tag_edition", "tag_url"]


def tag_url(
    url: str, params: dict[str, str], skip_domains: list[str] | tuple[str, ...] = ()
) -> str:
    """Add ``params`` to a web link's query, keeping its own query (and its own utm_*/ref)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or on_domains(url, skip_domains):
        return url
    existing = parse_qsl(parts.query, keep_blank_values=True)
    own = {key.lower() for key, _ in existing}
    if "ref" in own or any(key.startswith("utm_") for key in own):
        return url  # the link carries its own attribution: leave all of it alone
    added = [(key, value) for key, value in params.items() if value]
    query = parts.query + ("&" if parts.query else "") + urlencode(added)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def tag_edition(edition: Edition, tracking: Tracking) -> Edition:
    """Return the edition with its article links tagged."""

    def fill(value: str | None) -> str:
        return (
            (value or "")
            .replace("{date}", edition.date.isoformat())
            .replace("{number}", str(edition.number or ""))
        )

    params = {
        "utm_source": fill(tracking.utm_source),
        "utm_medium": fill(tracking.utm_medium),
        "utm_campaign": fill(tracking.utm_campaign),
        "utm_content": fill(tracking.utm_content),
    }

    def tagged(article: Article) -> Article:
        return article.model_copy(
            update={"url": tag_url(article.url, params, tracking.skip_domains)}
        )

    return edition.model_copy(
        update={
            "lead": tagged(edition.lead),
            "sections": tuple(
                section.model_copy(update={"teasers": tuple(tagged(t) for t in section.teasers)})
                for section in edition.sections
            ),
        }
    )
