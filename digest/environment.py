"""Secrets from the environment, read one way: a value that cannot be one is refused unseen."""

from __future__ import annotations

import os
from collections.abc import Mapping

from digest.errors import ConfigError

__all__ = ["secret_variable"]


def secret_variable(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The secret in the environment variable ``name``; None when it is unset or empty.

    A value with a line break or another control character (a ``.env`` file with CRLF line
    ends leaves a carriage return), or bytes that are not UTF-8, would reach a header or a
    signature as it is: it is refused with a ``ConfigError`` naming the variable, never the
    value.
    """
    value = (os.environ if environ is None else environ).get(name, "")
    if not value:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise ConfigError(
            f"{name}: holds a line break, a control character or bytes that are not UTF-8 "
            "(a .env file with CRLF line ends?); the value is not shown"
        )
    return value
