"""The web app readers and providers talk back to: unsubscribes and bounce webhooks.

``make_app(WebSettings(...))`` is an ASGI application (Starlette); ``app_from_environment``
makes one from the config named in ``DIGEST_CONFIG``, for an ASGI server's ``--factory``.
Needs the ``web`` extra: ``pip install 'newsletter-digest[web]'``.
"""

from digest.web.app import make_app
from digest.web.settings import WebSettings
from digest.web.setup import app_from_environment, settings_for

__all__ = ["WebSettings", "app_from_environment", "make_app", "settings_for"]
