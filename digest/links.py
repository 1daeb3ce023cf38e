"""Link tagging: UTM parameters on an edition's article links (``digest.urls.tag_url``)."""

from __future__ import annotations

from digest.edition import Edition
from digest.models import Article, Tracking
from digest.urls import tag_url

__all__ = ["tag_edition"]


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
