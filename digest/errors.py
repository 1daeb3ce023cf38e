"""Exceptions raised by digest.

Every error the library raises on purpose derives from one base class, so a caller
can catch ``DigestError`` and show its message to a person::

    DigestError
    ├── InputError          bad articles, quotes or newsletter settings
    │   ├── PlanError       an editor's plan names a story no longer in the edition's window
    │   ├── ConfigError     a config or data file that cannot be read or is invalid
    │   │   └── SourceError a feed that cannot be read or parsed, or whose every item was skipped
    │   └── UsageError      a request whose options do not go together (exit status 2)
    ├── EmptyEditionError   nothing to put in the edition (no articles at all)
    │   └── NothingNewError nothing that an earlier edition did not already feature
    ├── TemplateError       a template is missing, does not parse, or fails while rendering
    ├── RenderError         MJML compilation or CSS inlining failed
    ├── CheckError          the email fails its checks (no unsubscribe link, no alt, too big)
    │   └── PlaceholderLinkError  a send whose unsubscribe link is a placeholder (example.org)
    ├── GuardError          a guarded send stopped: its sample bounced or complained too much
    ├── SendError           a sender cannot work: a refused login or API key, no credentials
    ├── StoreError          the store's database cannot be reached or refused a statement (exit 11)
    └── PublishError        a list manager refused a campaign, or its answer was lost (exit 9)

Messages name the field, the position and an excerpt of the value, so the line a
command prints is enough to find the problem.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "CheckError",
    "ConfigError",
    "DigestError",
    "EmptyEditionError",
    "FetchError",
    "GuardError",
    "InputError",
    "NothingNewError",
    "PlaceholderLinkError",
    "PlanError",
    "PublishError",
    "RenderError",
    "SendError",
    "SourceError",
    "StoreError",
    "TemplateError",
    "UsageError",
]

EXCERPT_LENGTH = 60


class DigestError(Exception):
    """Base class of every error raised by digest."""

    #: The exit status of the ``digest`` command when this error stops it.
    exit_code = 1
    #: What was worth a warning before the error (skipped items, assumed time zones).
    warnings: tuple[str, ...] = ()


class InputError(DigestError, ValueError):
    """Articles, quotes or newsletter settings that do not pass validation."""


class PlanError(InputError):
    """An editor's plan that cannot be applied: it names a story not in the edition's window."""


class ConfigError(InputError):
    """A config or data file that cannot be read, parsed or validated."""


class SourceError(ConfigError):
    """A source that cannot be read or parsed at all, or whose every item was skipped."""


class UsageError(InputError):
    """A request whose options do not go together, or that leaves out one it needs."""

    exit_code = 2


class EmptyEditionError(DigestError):
    """There is nothing to put in the edition."""

    exit_code = 3


class NothingNewError(EmptyEditionError):
    """Every article in the edition's window was featured before: nothing to send."""


class TemplateError(DigestError):
    """A template is missing, has a syntax error, or fails while rendering."""

    exit_code = 4


class RenderError(DigestError):
    """MJML compilation or CSS inlining failed."""

    exit_code = 4


class CheckError(DigestError):
    """The email was built but does not pass its checks (too big to be read whole, say)."""

    exit_code = 5


class PlaceholderLinkError(CheckError):
    """A send to a list whose unsubscribe link is a placeholder: nobody could leave."""

    exit_code = 8


class SendError(DigestError):
    """A sender cannot work: a refused login or API key, missing credentials or SDK."""

    exit_code = 7


class PublishError(DigestError):
    """A list manager (Mailchimp, listmonk...) refused a campaign, its key, or lost the answer."""

    exit_code = 9


class GuardError(DigestError):
    """A guarded send stopped after its sample: too many hard bounces or complaints."""

    exit_code = 10


class StoreError(DigestError):
    """The store's database cannot be reached, refused a statement, or differs from a copy."""

    exit_code = 11


class FetchError(OSError):
    """A URL that could not be read (the message says why); sources report it as a SourceError."""


def excerpt(value: object, length: int = EXCERPT_LENGTH) -> str:
    """Return a short, printable ``repr`` of a value for an error message."""
    text = repr(value)
    return text if len(text) <= length else text[: length - 1] + "…"


_INSTANCE_OF = re.compile(r" or instance of \w+")

#: Field names whose values are secrets: never shown in a message, even one about them.
_SECRET_NAME = re.compile(r"pass|secret|token|key|auth|credential|\bpw\b|pwd", re.IGNORECASE)


def describe_validation_error(error: ValidationError, prefix: Sequence[str | int] = ()) -> str:
    """Turn a pydantic ``ValidationError`` into lines of ``field: problem (got value)``.

    The value is left out where it says nothing (a whole object, a missing field) and where
    it may be a secret: a field whose name sounds like one (password, token, key…), a field
    that names an environment variable (``key_env``: the key itself is often pasted there),
    or a field the model does not have (``password = "…"`` written where only
    ``password_env`` is known).
    """
    lines = []
    for problem in error.errors(include_url=False):
        where = format_location([*prefix, *problem["loc"]])
        # "a valid dictionary or instance of _Bounce": the class is the code's, not the input's.
        message = _INSTANCE_OF.sub("", problem["msg"].removeprefix("Value error, "))
        value = problem.get("input")
        names = [part for part in problem["loc"] if isinstance(part, str)]
        secret = problem["type"] == "extra_forbidden" or any(
            _SECRET_NAME.search(name) or name.endswith("_env") for name in names
        )
        shown = (
            "input" in problem
            and problem["type"] != "missing"
            and not isinstance(value, dict)
            and not secret
        )
        got = f" (got {excerpt(value)})" if shown else ""
        lines.append(f"{where}: {message}{got}" if where else f"{message}{got}")
    return "; ".join(lines)


def format_location(location: Sequence[str | int]) -> str:
    """Format a location such as ``("articles", 2, "title")`` as ``articles[2].title``."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
