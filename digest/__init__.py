"""digest: turn a week of news articles into one responsive, inline-styled email digest.

The pipeline runs one way: models -> select -> render (Jinja2 -> MJML -> HTML) -> inline ->
message. ``build_digest`` runs it all; each stage is importable on its own. ``run_build``
adds what a scheduled newsletter needs: sources, history, archive and files.
"""

from .check import Finding as Finding
from .check import check_html as check_html
from .config import BuildConfig as BuildConfig
from .config import EditionData as EditionData
from .config import SmtpSettings as SmtpSettings
from .config import Source as Source
from .config import load_config as load_config
from .config import load_data as load_data
from .config import parse_edition_data as parse_edition_data
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
from .history import History as History
from .inline import inline_css as inline_css
from .job import BuildResult as BuildResult
from .job import run_build as run_build
from .message import build_message as build_message
from .message import message_fields as message_fields
from .models import Article as Article
from .models import Cadence as Cadence
from .models import Link as Link
from .models import Logo as Logo
from .models import Newsletter as Newsletter
from .models import Quote as Quote
from .models import Reader as Reader
from .models import SectionSpec as SectionSpec
from .models import Sender as Sender
from .models import Theme as Theme
from .models import Tracking as Tracking
from .output import write_files as write_files
from .personal import Mailing as Mailing
from .personal import ReaderMessage as ReaderMessage
from .pipeline import Digest as Digest
from .pipeline import build_digest as build_digest
from .render import RenderedEdition as RenderedEdition
from .render import Renderer as Renderer
from .render import RenderOptions as RenderOptions
from .select import Edition as Edition
from .select import Section as Section
from .select import select_edition as select_edition
from .send import SendReport as SendReport
from .send import send_eml as send_eml
from .sources import SourceResult as SourceResult
from .sources import read_source as read_source
from .sources import read_sources as read_sources

__version__ = "0.2.0"

__all__ = [
    "Article",
    "BuildConfig",
    "BuildResult",
    "Cadence",
    "CheckError",
    "ConfigError",
    "Digest",
    "DigestError",
    "Edition",
    "EditionData",
    "EmptyEditionError",
    "Finding",
    "History",
    "InputError",
    "Link",
    "Logo",
    "Mailing",
    "Newsletter",
    "NothingNewError",
    "Quote",
    "Reader",
    "ReaderMessage",
    "RenderError",
    "RenderOptions",
    "RenderedEdition",
    "Renderer",
    "Section",
    "SectionSpec",
    "SendError",
    "SendReport",
    "Sender",
    "SmtpSettings",
    "Source",
    "SourceError",
    "SourceResult",
    "TemplateError",
    "Theme",
    "Tracking",
    "build_digest",
    "build_message",
    "check_html",
    "inline_css",
    "load_config",
    "load_data",
    "message_fields",
    "parse_edition_data",
    "read_source",
    "read_sources",
    "run_build",
    "select_edition",
    "send_eml",
    "write_files",
]
