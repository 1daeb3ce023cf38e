"""What the web app needs: where the suppression list is, the secrets, the limits."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digest.environment import secret_variable
from digest.errors import ConfigError
from digest.feeds.fetch import Fetcher
from digest.store.url import StoreURL
from digest.suppression.tokens import UnsubscribeTokens
from digest.web.preferences import Choices
from digest.web.signup import SignUpSettings
from digest.web.tracking import WebTracking

__all__ = [
    "POSTMARK_PASSWORD_VARIABLE",
    "RESEND_SECRET_VARIABLE",
    "WebSettings",
    "fetch_https",
]


#: The environment variable holding the password Postmark's webhook URL carries (basic auth).
POSTMARK_PASSWORD_VARIABLE = "DIGEST_POSTMARK_WEBHOOK_PASSWORD"
#: The environment variable holding Resend's webhook signing secret (``whsec_…``).
RESEND_SECRET_VARIABLE = "DIGEST_RESEND_WEBHOOK_SECRET"

_MAX_FETCH = 64 * 1024


def fetch_https(url: str) -> bytes:
    """GET an https URL (10 s, at most 64 KB): the SNS certificate or subscription URL."""
    if not url.startswith("https://"):
        raise ValueError(f"not an https URL: {url[:80]!r}")
    # The feeds' opener: public addresses only, redirects included; no host is allowed by name.
    return Fetcher(retries=0).small(url, _MAX_FETCH, deadline=10.0)


def _svix_secret(secret: str) -> bool:
    """Whether ``secret`` is a Svix signing secret: ``whsec_`` and a key in base64."""
    try:
        return secret.startswith("whsec_") and bool(
            base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        )
    except ValueError:
        return False


@dataclass(frozen=True)
class WebSettings:
    """The web app's settings: one newsletter's suppression list, secrets and limits."""

    #: The suppression list the app records into: an SQLite file, or a PostgreSQL store's URL.
    suppressions: Path | StoreURL
    #: The newsletter's name, on the unsubscribe page.
    name: str = "this newsletter"
    #: The catalog the unsubscribe pages' words come from (``digest.web.pages.page_catalog``).
    catalog: str = "en"
    #: Signs and checks unsubscribe tokens; None: the unsubscribe pages answer 404.
    tokens: UnsubscribeTokens | None = None
    #: What the preferences page offers (the newsletter's sections, cadence and zone); None:
    #: no page (``/preferences/TOKEN`` answers 404).
    preferences: Choices | None = None
    #: Sign-up with double opt-in (``/subscribe``, ``/confirm/TOKEN``); None: no such routes.
    signup: SignUpSettings | None = None
    #: Click and open tracking (``/c/TOKEN``, ``/o/TOKEN.gif``); None: no such routes.
    tracking: WebTracking | None = None
    #: SNS topics whose notifications are taken (an SES endpoint with none answers 404).
    sns_topics: frozenset[str] = frozenset()
    #: Basic-auth user and password of the Postmark webhook (no password: 404).
    postmark_user: str = "postmark"
    postmark_password: str | None = None
    #: Resend's webhook signing secret (``whsec_…``; none: 404).
    resend_secret: str | None = None
    #: The largest request body taken, in bytes; a bigger one gets 413.
    max_body: int = 256 * 1024
    #: How many soft bounces suppress an address.
    soft_bounce_limit: int = 3
    #: How old a signed timestamp may be (Svix: 5 minutes; SNS: an hour), in seconds.
    svix_tolerance: float = 300
    sns_tolerance: float = 3600
    #: Reads an SNS signing certificate, and visits a subscription's SubscribeURL.
    fetch: Callable[[str], bytes] = fetch_https
    #: The time now, as seconds since the epoch.
    clock: Callable[[], float] = time.time
    #: Certificates read, by URL (read once each).
    certificates: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, **values: Any
    ) -> WebSettings:
        """Settings with the secrets from the environment, the rest from ``values``."""
        password = secret_variable(POSTMARK_PASSWORD_VARIABLE, environ)
        secret = secret_variable(RESEND_SECRET_VARIABLE, environ)
        if secret is not None and not _svix_secret(secret):
            raise ConfigError(
                f"{RESEND_SECRET_VARIABLE}: Resend's signing secret is whsec_ and base64 "
                "(copy it from the webhook's page); the value is not shown"
            )
        return cls(postmark_password=password, resend_secret=secret, **values)
