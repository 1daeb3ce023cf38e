"""digest: turn a week of news articles into one responsive, inline-styled email digest.

The pipeline runs one way: models -> select -> render (Jinja2 -> MJML -> HTML) -> inline ->
message. ``build_digest`` runs it all; ``run_build`` adds what a scheduled newsletter needs:
sources, history, archive and files. These names are the whole public API at the top; the
rest lives in the module named for what it does: ``digest.models`` (the settings' parts),
``digest.config`` (config and data files, ``Source``), ``digest.sources``, ``digest.history``,
``digest.check``, ``digest.message``, ``digest.personal``, ``digest.send``, ``digest.errors``.
"""

import typing as _typing

if _typing.TYPE_CHECKING:
    from .check import check_html as check_html
    from .config import load_config as load_config
    from .errors import CheckError as CheckError
    from .errors import ConfigError as ConfigError
    from .errors import DigestError as DigestError
    from .errors import EmptyEditionError as EmptyEditionError
    from .errors import InputError as InputError
    from .errors import NothingNewError as NothingNewError
    from .errors import RenderError as RenderError
    from .errors import SendError as SendError
    from .errors import SourceError as SourceError
    from .errors import TemplateError as TemplateError
    from .job import run_build as run_build
    from .models import Article as Article
    from .models import Newsletter as Newsletter
    from .models import Quote as Quote
    from .models import Reader as Reader
    from .personal import Mailing as Mailing
    from .pipeline import Digest as Digest
    from .pipeline import build_digest as build_digest
    from .render import Renderer as Renderer
    from .render import RenderOptions as RenderOptions
    from .select import Edition as Edition
    from .select import select_edition as select_edition

# The names below are imported when first used (PEP 562), so that ``import digest`` and the
# ``digest`` command load only what a task needs: a build never imports the senders.
_LAZY = {
    "check_html": "check",
    "load_config": "config",
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
    "run_build": "job",
    "Article": "models",
    "Newsletter": "models",
    "Quote": "models",
    "Reader": "models",
    "Mailing": "personal",
    "Digest": "pipeline",
    "build_digest": "pipeline",
    "Renderer": "render",
    "RenderOptions": "render",
    "Edition": "select",
    "select_edition": "select",
}


def __getattr__(name: str) -> _typing.Any:
    """Import a public name from its module when it is first used."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'digest' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


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
    "load_config",
    "run_build",
    "select_edition",
]
