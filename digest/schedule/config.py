"""Config and data files: a TOML newsletter config and JSON documents of articles and quotes."""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from digest.delivery.settings import DeliverySettings
from digest.errors import ConfigError, describe_validation_error
from digest.feeds.data import MAX_DATA_BYTES
from digest.feeds.source import Source
from digest.files import StrPath, read_file
from digest.mail.tracking import TrackingSettings
from digest.models import EmailAddress, Newsletter
from digest.readers.store import ReaderStore
from digest.settings import PublishSettings
from digest.store.url import StoreSettings, StoreURL
from digest.suppression.tokens import SECRET_VARIABLE

if TYPE_CHECKING:
    from digest.delivery.ledger import SendLedger

__all__ = [
    "BuildConfig",
    "DeskConfig",
    "NetworkConfig",
    "ReadersConfig",
    "SuppressionConfig",
    "WebConfig",
    "history_kept",
    "history_store",
    "load_config",
    "reader_store",
    "suppression_path",
    "suppression_store",
]


class SuppressionConfig(BaseModel):
    """The suppression list: readers never sent to again (``[suppression]``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The list (SQLite); by default beside the history, or beside the config without one.
    path: Path | None = None
    #: How many soft bounces (a full mailbox, a server down) suppress an address.
    soft_bounce_limit: int = Field(default=3, ge=1, le=100)


class ReadersConfig(BaseModel):
    """The reader store: whom ``digest send`` mails, what consent keeps (``[readers]``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Whether ``digest send`` to a recipients file mails only the addresses the reader store
    #: holds as subscribed, with their consent on record (the rest are named and left out).
    require_consent: bool = False
    #: Whether a consent record keeps the IP address the consent came from (never, by default).
    keep_ip: bool = False
    #: The version of the sign-up wording a consent record names (change it with the wording).
    wording: str = Field(default="1", min_length=1, max_length=100)


class WebConfig(BaseModel):
    """The web app of ``digest serve``: unsubscribe pages and webhooks (``[web]``).

    Its secrets come from the environment, never from here: ``DIGEST_UNSUBSCRIBE_SECRET``,
    ``DIGEST_POSTMARK_WEBHOOK_PASSWORD`` and ``DIGEST_RESEND_WEBHOOK_SECRET``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The address ``digest serve`` listens on (loopback: put a TLS proxy in front).
    host: str = "127.0.0.1"
    #: The port ``digest serve`` listens on (not 8025, where local test mail servers listen).
    port: int = Field(default=8090, ge=1, le=65535)
    #: The SNS topics (ARNs) whose SES notifications are taken at ``/webhooks/ses``.
    sns_topics: list[str] = Field(default_factory=list, max_length=100)
    #: The user name in Postmark's webhook URL (the password is in the environment).
    postmark_user: str = Field(default="postmark", min_length=1, max_length=100)
    #: The largest request body taken, in bytes.
    max_body: int = Field(default=256 * 1024, ge=1024, le=10 * 1024 * 1024)


class DeskConfig(BaseModel):
    """The editor's desk of ``digest desk``: proofs and approval (``[desk]``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Whether ``digest send`` refuses an edition nobody approved, or one changed since.
    approval: bool = False
    #: Who gets a proof ("Send proof" in the desk, ``digest send --to`` sends one too).
    proof_to: list[EmailAddress] = Field(default_factory=list, max_length=50)
    #: The approver's name the desk fills in (one can type another).
    approver: str | None = Field(default=None, max_length=100)
    #: The address ``digest desk`` listens on: loopback, so only this machine reaches it.
    host: str = "127.0.0.1"
    #: The port ``digest desk`` listens on (0: any free one).
    port: int = Field(default=8030, ge=0, le=65535)


class NetworkConfig(BaseModel):
    """Where a build may fetch feeds and their pictures from (``[network]``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Hosts fetched from though their address is not public (loopback, private, link-local):
    #: feeds and pictures on this machine or an intranet. By name, as URLs write them:
    #: ``"localhost"``, ``"127.0.0.1"``, ``"::1"``, ``"feeds.internal"``. Any other host is
    #: refused unless every address it resolves to is public.
    allow_hosts: list[str] = Field(default_factory=list, max_length=100)

    @field_validator("allow_hosts")
    @classmethod
    def _host_names(cls, hosts: list[str]) -> list[str]:
        for index, host in enumerate(hosts):
            if not _is_host(host):
                raise ValueError(
                    f"item {index + 1}, {host[:60]!r}, is not a host name or an IP address "
                    "(no scheme, port or path)"
                )
        return [host.lower().strip("[]") for host in hosts]


# A host name as a URL writes it, without a scheme, user, port, path or final dot.
_HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


def _is_host(host: str) -> bool:
    """Whether ``host`` is a host name, an IP address or a bracketed IPv6 address, alone."""
    if host.startswith("[") and host.endswith("]"):  # brackets hold an IPv6 address only
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(_HOST_NAME.fullmatch(host)) and ".." not in host
    return True


class BuildConfig(BaseModel):
    """A newsletter config file: the newsletter, its data files, templates and assets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The newsletter: its name, sender, contact and settings by concern.
    newsletter: Newsletter
    #: JSON data files of articles and quotes (a path, or a list of paths).
    data: list[Path] = Field(default_factory=list)
    #: Feeds and files to read articles from, each a ``[[sources]]`` table.
    sources: list[Source] = Field(default_factory=list, max_length=100)
    #: A folder of your own templates; a template it lacks comes from the defaults.
    templates: Path | None = None
    #: A folder of pictures, for the local preview (``.preview.html``) of an edition.
    assets: Path | None = None
    #: The recipients written into the built ``.eml`` (a test list; ``digest send`` sends each its
    #: own copy).
    to: list[EmailAddress] = Field(default_factory=list)
    #: The edition history (SQLite): a path, or false to keep none.
    history: Path | bool = True
    #: The folder of the web archive (one page per edition and an index), if any.
    archive: Path | None = None
    #: Where ``digest build`` writes when ``--out`` is not given.
    out: Path | None = None
    #: How ``digest send`` delivers: the provider and its settings.
    delivery: DeliverySettings | None = None
    #: A file of recipient addresses for ``digest send``, one a line.
    recipients: Path | None = None
    #: Cadence-based windows need the previous edition: how many editions a quote rests.
    quote_rest: int = Field(default=4, ge=0, le=100)
    #: The suppression list: where it is and when soft bounces suppress.
    suppression: SuppressionConfig = Field(default_factory=SuppressionConfig)
    #: The reader store: consent and who is mailed.
    readers: ReadersConfig = Field(default_factory=ReadersConfig)
    #: The web app of ``digest serve``.
    web: WebConfig = Field(default_factory=WebConfig)
    #: Click and open tracking of our own, through ``digest serve``; off by default.
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)
    #: The editor's desk: proofs and approval.
    desk: DeskConfig = Field(default_factory=DeskConfig)
    #: Hosts feeds and pictures may be fetched from besides public ones.
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    #: The list managers ``digest publish`` hands an edition to (``[publish.mailchimp]``...).
    publish: PublishSettings = Field(default_factory=PublishSettings)
    #: Where the store lives (``[store]``): SQLite files beside the config, or PostgreSQL.
    store: StoreSettings = Field(default_factory=StoreSettings)

    def beside_history(self, suffix: str) -> Path | None:
        """A file kept beside the history, named as it up to its first dot, then ``suffix``.

        ``weekly.history.sqlite3`` gives ``weekly.sends.sqlite3`` for ``.sends.sqlite3``.
        None when the config keeps no history.
        """
        if not isinstance(self.history, Path):
            return None
        return self.history.with_name(self.history.name.split(".")[0] + suffix)


def ledger_path(config: BuildConfig, eml: Path) -> Path:
    """Where ``digest send`` keeps its ledger: beside the history, or in the ``.eml``'s folder.

    Without a history, every edition sent from one folder shares ``digest.sends.sqlite3``
    there, so a rebuilt ``.eml`` under another name still finds its first send. A ledger of
    0.2 named after the ``.eml`` (``edition-….sends.sqlite3``) is used while it exists.
    """
    beside = config.beside_history(".sends.sqlite3")
    if beside is not None:
        return beside
    earlier = eml.with_name(eml.name.split(".")[0] + ".sends.sqlite3")
    return earlier if earlier.exists() else eml.with_name("digest.sends.sqlite3")


def server_ledger(config: BuildConfig) -> SendLedger | None:
    """The send ledger on the PostgreSQL server the config's store names; None on SQLite.

    On SQLite each command finds its ledger file as before (``ledger_path``, or beside the
    history); on PostgreSQL every command of the config reads the one ledger on the server.
    """
    from digest.store import store_url

    url = store_url(config.store)
    if url.backend == "sqlite":
        return None
    # Not at import: psycopg loads only for a PostgreSQL store.
    from digest.delivery.ledger import open_ledger

    return open_ledger(Path(), url, config.store.lease_seconds)


def suppression_path(config: BuildConfig) -> Path:
    """The suppression list: as configured, beside the history, or beside the config.

    ``load_config`` fills it in, absolute, so every command of one config (``digest send``,
    ``digest serve``, ``digest suppress``) uses the same list from any folder. A config made
    in code without one keeps it in the current folder, made absolute here.
    """
    if config.suppression.path is not None:
        return config.suppression.path
    beside = config.beside_history(".suppressions.sqlite3")
    return beside if beside is not None else Path("digest.suppressions.sqlite3").absolute()


def suppression_store(config: BuildConfig) -> Path | StoreURL:
    """Where the suppression list and the reader store live: the PostgreSQL store, or a file.

    On a ``postgresql://`` store every host's commands and web apps read and write one list
    there; on SQLite it is the file ``suppression_path`` names.
    """
    from digest.store import store_url

    url = store_url(config.store)
    return url if url.backend == "postgresql" else suppression_path(config)


def history_store(config: BuildConfig) -> Path | StoreURL | None:
    """Where the edition history lives: the PostgreSQL store, its file, or None (none kept).

    ``history = false`` keeps none on either backend; on a ``postgresql://`` store every host
    (the build, ``digest serve``'s click tracking, the desk, the report) reads one history.
    """
    if not isinstance(config.history, Path):
        return None
    from digest.store import store_url

    url = store_url(config.store)
    return url if url.backend == "postgresql" else config.history


def history_kept(where: Path | StoreURL) -> bool:
    """Whether a history was begun at ``where`` (the store's tables are made as it opens)."""
    return isinstance(where, StoreURL) or where.exists()


def reader_store(config: BuildConfig, environ: Mapping[str, str] | None = None) -> ReaderStore:
    """The reader store of ``config``, where its suppression list is (``suppression_store``).

    ``[readers] keep_ip`` says whether consent keeps its IP address; the unsubscribe secret
    (``DIGEST_UNSUBSCRIBE_SECRET`` in ``environ``, ``os.environ`` by default) finds the
    addresses ``digest readers forget`` erased, so they stay unsubscribed.
    """
    secret = (os.environ if environ is None else environ).get(SECRET_VARIABLE, "")
    return ReaderStore(
        suppression_store(config),
        soft_bounce_limit=config.suppression.soft_bounce_limit,
        keep_ip=config.readers.keep_ip,
        secret=secret.encode("utf-8") if secret.strip() else None,
    )


def load_config(path: StrPath) -> BuildConfig:
    """Read a TOML config; every path in it comes back absolute, relative ones from its folder."""
    path = Path(path)
    raw = read_file(path, "config file", MAX_DATA_BYTES)
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path}: not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not usable TOML: arrays or tables nested too deeply") from None
    except ValueError as error:  # an integer of more digits than Python converts
        raise ConfigError(f"{path}: not usable TOML: {error}") from None
    data = document.get("data", [])
    if isinstance(data, str):
        document["data"] = [data]
    if "smtp" in document:
        raise ConfigError(
            f'{path}: [smtp] has moved to [delivery.smtp] (with provider = "smtp" in '
            "[delivery]); the keys inside it are the same"
        )
    try:
        config = BuildConfig.model_validate(document)
    except ValidationError as error:
        raise ConfigError(f"{path}: {describe_validation_error(error)}") from None
    return _resolve_files(config, path)


def _resolve_files(config: BuildConfig, path: Path) -> BuildConfig:
    """``config`` (read from ``path``) with every file and folder in it absolute.

    The one place a config's paths are joined to its folder; nothing joins a folder again
    later. Relative paths are taken from the real folder of the config file: symlinks are
    resolved, so every name of one config (``mkt/newsletter.toml`` from the folder above, an
    absolute path, a symlinked folder, a config file that is itself a symlink) keeps its
    history, ledger and suppression list in one place, whatever folder a command runs from.
    The default names come from the real file's name too. Absolute paths are kept as written.
    """
    real = path.resolve()
    folder, stem = real.parent, real.stem

    def under(value: Path | None) -> Path | None:
        return None if value is None else folder / value

    history: Path | bool = config.history
    if history is True:
        history = folder / f"{stem}.history.sqlite3"
    elif isinstance(history, Path):
        history = folder / history
    sources = [
        s if s.path is None else s.model_copy(update={"path": folder / s.path})
        for s in config.sources
    ]
    listed = under(config.suppression.path)
    if listed is None:
        beside = config.model_copy(update={"history": history}).beside_history(
            ".suppressions.sqlite3"
        )
        listed = beside or folder / f"{stem}.suppressions.sqlite3"
    suppression = config.suppression.model_copy(update={"path": listed})
    delivery = config.delivery
    if delivery is not None and delivery.smtp is not None and delivery.smtp.dkim is not None:
        key = folder / delivery.smtp.dkim.key_file
        dkim = delivery.smtp.dkim.model_copy(update={"key_file": key})
        smtp = delivery.smtp.model_copy(update={"dkim": dkim})
        delivery = delivery.model_copy(update={"smtp": smtp})
    return config.model_copy(
        update={
            "data": [folder / p for p in config.data],
            "sources": sources,
            "templates": under(config.templates),
            "assets": under(config.assets),
            "history": history,
            "archive": under(config.archive),
            "out": under(config.out),
            "recipients": under(config.recipients),
            "suppression": suppression,
            "delivery": delivery,
        }
    )
