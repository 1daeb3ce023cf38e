"""digest: turn a week of news articles into one responsive, inline-styled email digest.

The pipeline runs one way: models -> select -> render (Jinja2 -> MJML -> HTML) -> inline ->
message. ``build_digest`` runs it all; each stage is importable on its own.
"""

from .config import BuildConfig as BuildConfig
from .config import EditionData as EditionData
from .config import load_config as load_config
from .config import load_data as load_data
from .config import parse_edition_data as parse_edition_data
from .errors import ConfigError as ConfigError
from .errors import DigestError as DigestError
from .errors import EmptyEditionError as EmptyEditionError
from .errors import InputError as InputError
from .errors import RenderError as RenderError
from .errors import TemplateError as TemplateError
from .inline import inline_css as inline_css
from .message import build_message as build_message
from .message import message_fields as message_fields
from .models import Article as Article
from .models import Link as Link
from .models import Logo as Logo
from .models import Newsletter as Newsletter
from .models import Quote as Quote
from .models import SectionSpec as SectionSpec
from .models import Sender as Sender
from .models import Theme as Theme
from .output import write_files as write_files
from .pipeline import Digest as Digest
from .pipeline import build_digest as build_digest
from .render import RenderedEdition as RenderedEdition
from .render import Renderer as Renderer
from .render import RenderOptions as RenderOptions
from .select import Edition as Edition
from .select import Section as Section
from .select import select_edition as select_edition

__version__ = "0.1.0"

__all__ = [
    "Article",
    "BuildConfig",
    "ConfigError",
    "Digest",
    "DigestError",
    "Edition",
    "EditionData",
    "EmptyEditionError",
    "InputError",
    "Link",
    "Logo",
    "Newsletter",
    "Quote",
    "RenderError",
    "RenderOptions",
    "RenderedEdition",
    "Renderer",
    "Section",
    "SectionSpec",
    "Sender",
    "TemplateError",
    "Theme",
    "build_digest",
    "build_message",
    "inline_css",
    "load_config",
    "load_data",
    "message_fields",
    "parse_edition_data",
    "select_edition",
    "write_files",
]
