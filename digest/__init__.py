"""digest: turn a week of news articles into one responsive, inline-styled email digest.

The pipeline runs one way: models -> select -> render (Jinja2 -> MJML -> HTML) -> inline ->
message. ``build_digest`` runs it all; ``run_build`` adds what a scheduled newsletter needs:
sources, history, archive and files. These names are the whole public API at the top; the
rest lives in the part it belongs to, each a package whose docstring lists its modules:

- the core, flat here: ``models`` (with ``fields``, ``settings`` and ``cadence``),
  ``edition``, ``select`` (with ``sections``), ``pipeline``, ``check`` (with ``findings``
  and ``html_checks``), ``errors`` and small helpers (``text``, ``urls``, ``addresses``,
  ``markup``, ``files``);
- ``digest.render``: templates (sandboxed Jinja2) to MJML to HTML, the context, inlining;
- ``digest.feeds``: sources (RSS, Atom, JSON Feed, CSV, JSON), fetching, cleaning, pictures;
- ``digest.suppression``: the suppression list, signed unsubscribe tokens, DSN and ARF reports;
- ``digest.readers``: the reader store: statuses, consent, imports from other tools;
- ``digest.mail``: the MIME writer, the edition's message, personalised copies, readers;
- ``digest.delivery``: senders (SMTP, SES, Postmark, Resend), DKIM, the ledger, ``Mailing``;
- ``digest.schedule``: config files, the scheduled build, its history, the commit;
- the faces: ``digest.cli`` (the ``digest`` command), ``digest.preview`` and ``digest.web``
  (unsubscribe pages and provider webhooks).

Imports run downward only (faces, schedule, delivery, mail, pipeline, readers, render,
feeds and suppression, core). The module paths of 0.2 (``digest.config``,
``digest.senders``...) are gone in 0.3: import each name from its new home.
"""

import typing as _typing

from digest.lazy import lazy_names as _lazy_names

if _typing.TYPE_CHECKING:
    from digest.check import check_html as check_html
    from digest.delivery.mailing import Mailing as Mailing
    from digest.edition import Edition as Edition
    from digest.errors import CheckError as CheckError
    from digest.errors import ConfigError as ConfigError
    from digest.errors import DigestError as DigestError
    from digest.errors import EmptyEditionError as EmptyEditionError
    from digest.errors import InputError as InputError
    from digest.errors import NothingNewError as NothingNewError
    from digest.errors import RenderError as RenderError
    from digest.errors import SendError as SendError
    from digest.errors import SourceError as SourceError
    from digest.errors import TemplateError as TemplateError
    from digest.mail.copies import reader_messages as reader_messages
    from digest.mail.message import email_bytes as email_bytes
    from digest.mail.message import email_message as email_message
    from digest.mail.message import esp_fields as esp_fields
    from digest.models import Article as Article
    from digest.models import Newsletter as Newsletter
    from digest.models import Quote as Quote
    from digest.models import Reader as Reader
    from digest.pipeline import Digest as Digest
    from digest.pipeline import build_digest as build_digest
    from digest.render import Renderer as Renderer
    from digest.render import RenderOptions as RenderOptions
    from digest.schedule.build import run_build as run_build
    from digest.schedule.config import load_config as load_config
    from digest.select import select_edition as select_edition

# The names below are imported when first used (PEP 562), so that ``import digest`` and the
# ``digest`` command load only what a task needs: a build never imports the senders.
_LAZY = {
    "check_html": "check",
    "load_config": "schedule.config",
    "CheckError": "errors",
    "ConfigError": "errors",
    "DigestError": "errors",
    "EmptyEditionError": "errors",
    "InputError": "errors",
    "NothingNewError": "errors",
    "RenderError": "errors",
    "SendError": "errors",
    "SourceError": "errors",
    "TemplateError": "errors",
    "run_build": "schedule.build",
    "email_bytes": "mail.message",
    "email_message": "mail.message",
    "esp_fields": "mail.message",
    "reader_messages": "mail.copies",
    "Article": "models",
    "Newsletter": "models",
    "Quote": "models",
    "Reader": "models",
    "Mailing": "delivery.mailing",
    "Digest": "pipeline",
    "build_digest": "pipeline",
    "Renderer": "render",
    "RenderOptions": "render",
    "Edition": "edition",
    "select_edition": "select",
}


__getattr__ = _lazy_names(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    """The public names, with the module's own."""
    return sorted({*globals(), *__all__})


__version__ = "0.2.0"

__all__ = [
    "Article",
    "CheckError",
    "ConfigError",
    "Digest",
    "DigestError",
    "Edition",
    "EmptyEditionError",
    "InputError",
    "Mailing",
    "Newsletter",
    "NothingNewError",
    "Quote",
    "Reader",
    "RenderError",
    "RenderOptions",
    "Renderer",
    "SendError",
    "SourceError",
    "TemplateError",
    "build_digest",
    "check_html",
    "email_bytes",
    "email_message",
    "esp_fields",
    "load_config",
    "reader_messages",
    "run_build",
    "select_edition",
]
