"""Where the store lives: a URL (``sqlite:`` files beside the config, or ``postgresql://``).

The URL comes from ``[store] url`` or, before it, the ``DIGEST_DATABASE_URL`` environment
variable. A password is taken from the environment only (``DIGEST_DATABASE_URL``,
libpq's ``PGPASSWORD`` or ``~/.pgpass``), never from a config file, and every message shows
the URL with its password masked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from digest.errors import ConfigError

__all__ = ["ENVIRONMENT", "StoreSettings", "StoreURL", "mask", "parse_store_url", "store_url"]

#: The environment variable that names the store, before the config's ``[store] url``.
ENVIRONMENT = "DIGEST_DATABASE_URL"

_PASSWORD_IN_NETLOC = re.compile(r"(://[^:/@?#]*):[^@/?#]*@")
_PASSWORD_IN_QUERY = re.compile(r"(?i)((?:^|[?&\s])password=)[^&\s]*")


def mask(url: str) -> str:
    """``url`` with any password in it written as ``***``."""
    return _PASSWORD_IN_QUERY.sub(r"\1***", _PASSWORD_IN_NETLOC.sub(r"\1:***@", url))


class StoreSettings(BaseModel):
    """Where digest keeps what it remembers, and for how long a sender's claim holds (``[store]``).

    Only the send ledger lives in the store so far; the suppression list, the reader store and
    the history stay SQLite files beside the config.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The store: ``sqlite:`` (files beside the config, as before), ``sqlite:////abs/path`` (the
    #: send ledger's file) or ``postgresql://user@host/database`` (no password here: it comes from
    #: ``DIGEST_DATABASE_URL``, ``PGPASSWORD`` or ``.pgpass``). ``DIGEST_DATABASE_URL`` wins.
    url: str = Field(default="sqlite:", min_length=1, max_length=2000)
    #: How long a sender's claim on a reader holds on PostgreSQL: a reader claimed longer ago
    #: and never recorded (the sender died) reads as unknown, as after a crash on SQLite.
    lease_seconds: int = Field(default=900, ge=1, le=7 * 86400)


@dataclass(frozen=True)
class StoreURL:
    """A parsed store URL; its text (``str``, ``repr``) never shows a password."""

    #: ``sqlite`` or ``postgresql``.
    backend: Literal["sqlite", "postgresql"]
    #: The URL as given (a password in it included: pass it to the driver, never print it).
    url: str
    #: The send ledger's file for ``sqlite:////abs/path``; None for the files beside the config.
    path: Path | None = None

    def masked(self) -> str:
        """The URL to show: its password as ``***``."""
        return mask(self.url)

    def __str__(self) -> str:
        """The masked URL."""
        return self.masked()

    def __repr__(self) -> str:
        """The masked URL, for a log or a traceback."""
        return f"StoreURL({self.masked()!r})"


def parse_store_url(text: str, field: str = "store.url", *, secret_ok: bool = False) -> StoreURL:
    """Read a store URL; a ``ConfigError`` naming ``field`` and the (masked) value if it is bad.

    A password is refused unless ``secret_ok`` (the URL came from the environment).
    """
    value = text.strip()
    shown = mask(value)
    scheme = value.split(":", 1)[0].lower() if ":" in value else ""
    if scheme == "sqlite":
        rest = value[len("sqlite:") :]
        if rest in ("", "//"):
            return StoreURL("sqlite", value)
        path = Path(unquote(rest[3:])) if rest.startswith("///") else None
        if path is None or not path.is_absolute():
            raise ConfigError(
                f"{field}: {shown!r} is not a SQLite URL: write sqlite: (files beside the "
                "config) or sqlite:////srv/news/ledger.sqlite3 (an absolute path after ///)"
            )
        return StoreURL("sqlite", value, path)
    if scheme in ("postgresql", "postgres"):
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 (a port that is no number raises here)
        except ValueError as error:
            raise ConfigError(f"{field}: {shown!r} is not a PostgreSQL URL ({error})") from None
        has_password = parts.password is not None or bool(
            re.search(r"(?i)(^|&)password=", parts.query)
        )
        if has_password and not secret_ok:
            raise ConfigError(
                f"{field}: {shown!r} holds a password: keep it out of the config, in "
                f"{ENVIRONMENT}, PGPASSWORD or ~/.pgpass"
            )
        return StoreURL("postgresql", value)
    raise ConfigError(
        f"{field}: {shown!r} names no store digest knows: use sqlite: or postgresql://"
    )


def store_url(settings: StoreSettings, environ: Mapping[str, str] | None = None) -> StoreURL:
    """The store a config uses: ``DIGEST_DATABASE_URL`` if set, else ``[store] url``.

    The config's URL is read either way: one with a password in it is refused even while
    the environment's wins, since the file itself holds the secret.
    """
    env = os.environ if environ is None else environ
    configured = parse_store_url(settings.url)
    from_env = env.get(ENVIRONMENT, "").strip()
    if from_env:
        return parse_store_url(from_env, ENVIRONMENT, secret_ok=True)
    return configured
