"""The ``digest serve`` command: unsubscribe pages, webhooks and /health."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.common import (
    CONFIG,
    load_config,
    warn,
)
from digest.errors import ConfigError


@click.command()
@CONFIG
@click.option("--host", default=None, help="The address to listen on (default: [web] host).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Default: [web] port.")
@click.option("--form", "print_form", is_flag=True, help="Print an embeddable sign-up form; exit.")
def serve(config_path: Path, host: str | None, port: int | None, print_form: bool) -> None:
    """Run the web app: sign-up, unsubscribe and preferences pages, webhooks and /health.

    The secrets come from the environment: DIGEST_UNSUBSCRIBE_SECRET (the unsubscribe links),
    DIGEST_POSTMARK_WEBHOOK_PASSWORD and DIGEST_RESEND_WEBHOOK_SECRET. It listens on
    loopback by default: put a TLS proxy (Caddy, nginx) in front of it.

    Example:

    \b
        digest serve --config newsletter.toml --port 8090
    """
    import logging

    try:
        from digest.web import make_app, settings_for
        from digest.web.server import serve as serve_app
    except ImportError as error:
        raise ConfigError(
            f"digest serve needs the web extra ({error.name} is missing): "
            "pip install 'newsletter-digest[web]'"
        ) from None
    from digest.web.signup import signup_off

    config = load_config(config_path)
    off = signup_off(config)
    if print_form:
        from digest.web.signup_form import signup_form

        if off:  # the form would post to a /subscribe that answers 404
            warn(f"sign-up is off in digest serve: {'; '.join(off)}")
        click.echo(signup_form(config.newsletter), nl=False)
        return
    settings = settings_for(config)
    if settings.tokens is None:
        warn("DIGEST_UNSUBSCRIBE_SECRET is not set: the unsubscribe pages answer 404")
    if off:
        warn(f"sign-up is off (/subscribe answers 404): {'; '.join(off)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    host = host or config.web.host
    port = port or config.web.port
    click.echo(f"Serving {config.newsletter.name} on http://{host}:{port} (Ctrl+C to stop)")
    # Uvicorn's own access log would print the tokens in unsubscribe paths: the app logs
    # each request itself, with them cut out. Connections are bounded and timed out.
    serve_app(make_app(settings), host, port)
