"""Signed unsubscribe tokens: a reader's address and an HMAC only the newsletter can make.

A token is ``1.<address>.<signature>``: the reader's address (``address_key``, base64url)
and the first 128 bits of HMAC-SHA256 over the newsletter's list id and that address, with a
secret kept in the environment (``DIGEST_UNSUBSCRIBE_SECRET``), never in a config file.
Nobody without the secret can make a token for another address, and a token of one
newsletter does not unsubscribe from another that shares the secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

from digest.addresses import address_key
from digest.environment import secret_variable
from digest.errors import ConfigError

__all__ = ["SECRET_VARIABLE", "UnsubscribeTokens", "signing_key"]


#: The environment variable that holds the signing secret.
SECRET_VARIABLE = "DIGEST_UNSUBSCRIBE_SECRET"

_MIN_SECRET = 16
_VERSION = "1"
_MAX_TOKEN = 400


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signing_key(secret: str | bytes) -> bytes:
    """``secret`` as the key of a list's signed links, or a ``ConfigError`` when too short."""
    raw = secret.encode("utf-8") if isinstance(secret, str) else secret
    if len(raw.strip()) < _MIN_SECRET:
        raise ConfigError(
            f"{SECRET_VARIABLE}: the unsubscribe secret must be at least {_MIN_SECRET} "
            f"characters (got {len(raw.strip())}); make one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return raw


class UnsubscribeTokens:
    """Make and check the tokens of one newsletter's unsubscribe links."""

    def __init__(self, secret: str | bytes, list_id: str) -> None:
        """Sign with ``secret`` (16 characters or more) for the list ``list_id``."""
        self._key = signing_key(secret)
        self.list_id = list_id

    @classmethod
    def from_environment(
        cls, list_id: str, environ: Mapping[str, str] | None = None
    ) -> UnsubscribeTokens | None:
        """Tokens signed with the secret in ``DIGEST_UNSUBSCRIBE_SECRET``; None when unset."""
        secret = secret_variable(SECRET_VARIABLE, environ)
        return cls(secret, list_id) if secret else None

    def _mac(self, key: str) -> str:
        message = f"digest-unsubscribe\0{self.list_id}\0{key}".encode()
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest()[:16])

    def token(self, address: str) -> str:
        """The token of ``address`` (letters, digits, ``-``, ``_`` and ``.``: safe in a URL)."""
        key = address_key(address)
        return f"{_VERSION}.{_b64(key.encode('utf-8'))}.{self._mac(key)}"

    def address(self, token: str) -> str | None:
        """The address a token was made for, or None when it is not one of this list's."""
        if len(token) > _MAX_TOKEN:
            return None
        version, _, rest = token.partition(".")
        encoded, _, signature = rest.partition(".")
        if version != _VERSION or not encoded or not signature:
            return None
        try:
            key = _unb64(encoded).decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        if "@" not in key or not hmac.compare_digest(self._mac(key), signature):
            return None
        return key
