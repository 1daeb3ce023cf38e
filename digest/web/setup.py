"""The web app made from a newsletter's config file and the secrets in the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping

from starlette.applications import Starlette

from digest.errors import ConfigError
from digest.mail.message import list_id
from digest.schedule.config import BuildConfig, load_config, suppression_store
from digest.suppression.tokens import UnsubscribeTokens
from digest.web.app import make_app
from digest.web.pages import page_catalog
from digest.web.preferences import Choices
from digest.web.settings import WebSettings
from digest.web.signup import SignUpSettings
from digest.web.tracking import web_tracking

__all__ = ["CONFIG_VARIABLE", "app_from_environment", "settings_for"]


#: The environment variable naming the config file, for ``app_from_environment``.
CONFIG_VARIABLE = "DIGEST_CONFIG"


def settings_for(config: BuildConfig, environ: Mapping[str, str] | None = None) -> WebSettings:
    """The web app's settings for ``config``, its secrets from ``environ`` (``os.environ``)."""
    env = os.environ if environ is None else environ
    newsletter = config.newsletter
    tokens = UnsubscribeTokens.from_environment(list_id(newsletter), env)
    return WebSettings.from_environment(
        env,
        suppressions=suppression_store(config),
        name=newsletter.name,
        catalog=page_catalog(newsletter.locale),
        tokens=tokens,
        preferences=Choices.of(newsletter, tracking=config.tracking.on),
        signup=SignUpSettings.of(config, env),
        tracking=web_tracking(config, env),
        sns_topics=frozenset(config.web.sns_topics),
        postmark_user=config.web.postmark_user,
        max_body=config.web.max_body,
        soft_bounce_limit=config.suppression.soft_bounce_limit,
    )


def app_from_environment() -> Starlette:
    """The app for the config named in ``DIGEST_CONFIG`` (``uvicorn --factory`` calls it)."""
    path = os.environ.get(CONFIG_VARIABLE)
    if not path:
        raise ConfigError(f"{CONFIG_VARIABLE}: name the newsletter's config file")
    return make_app(settings_for(load_config(path)))
