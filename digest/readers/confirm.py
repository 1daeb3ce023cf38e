"""Signed confirmation tokens for double opt-in: the sign-up itself, held in the link.

A token is ``1.<payload>.<signature>``: the payload (base64url JSON of the address as written,
the chosen name and sections and the time of the sign-up) and the first 128 bits of
HMAC-SHA256 over the newsletter's list id and that payload, with the secret in
``DIGEST_UNSUBSCRIBE_SECRET``. Nothing is stored before the reader confirms, so an address that
never confirms leaves no trace; an altered, foreign or expired token is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from digest.addresses import email_address
from digest.environment import secret_variable
from digest.errors import ConfigError, InputError
from digest.suppression.tokens import SECRET_VARIABLE, signing_key

__all__ = ["DEFAULT_LIFETIME", "ConfirmTokens", "SignUp"]

#: How long a confirmation link stays good.
DEFAULT_LIFETIME = timedelta(days=2)

_VERSION = "1"
_MAX_TOKEN = 2000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SignUp:
    """What a reader asked for on the form, and when."""

    address: str
    name: str
    sections: tuple[str, ...]
    at: datetime


class ConfirmTokens:
    """Make and check the tokens of one newsletter's confirmation links."""

    def __init__(
        self, secret: str | bytes, list_id: str, lifetime: timedelta = DEFAULT_LIFETIME
    ) -> None:
        """Sign with ``secret`` (16 characters or more) for ``list_id``; links last ``lifetime``."""
        if lifetime <= timedelta(0):
            raise ConfigError(f"lifetime: must be positive (got {lifetime!r})")
        self._key = signing_key(secret)
        self.list_id = list_id
        self.lifetime = lifetime

    @classmethod
    def from_environment(
        cls, list_id: str, environ: Mapping[str, str] | None = None
    ) -> ConfirmTokens | None:
        """Tokens signed with the secret in ``DIGEST_UNSUBSCRIBE_SECRET``; None when unset."""
        secret = secret_variable(SECRET_VARIABLE, environ)
        return cls(secret, list_id) if secret else None

    def _mac(self, payload: str) -> str:
        message = f"digest-confirm\0{self.list_id}\0{payload}".encode()
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest()[:16])

    def token(
        self,
        address: str,
        name: str = "",
        sections: tuple[str, ...] = (),
        at: datetime | None = None,
    ) -> str:
        """The token of one sign-up (URL-safe); raises InputError for a bad address."""
        try:
            written = email_address(address)
        except ValueError as error:
            raise InputError(f"address: not an email address: {address!r} ({error})") from None
        when = (at or datetime.now(UTC)).astimezone(UTC)
        body = {"a": written, "n": name, "s": list(sections), "t": int(when.timestamp())}
        payload = _b64(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{_VERSION}.{payload}.{self._mac(payload)}"

    def check(self, token: str, now: datetime | None = None) -> SignUp | None:
        """The sign-up a token holds, or None when altered, foreign or expired."""
        if len(token) > _MAX_TOKEN:
            return None
        version, _, rest = token.partition(".")
        payload, _, signature = rest.partition(".")
        if version != _VERSION or not payload or not signature:
            return None
        if not hmac.compare_digest(self._mac(payload).encode(), signature.encode()):
            return None
        try:
            body = json.loads(_unb64(payload).decode("utf-8"))
            signup = SignUp(
                address=str(body["a"]),
                name=str(body["n"]),
                sections=tuple(str(s) for s in body["s"]),
                at=datetime.fromtimestamp(int(body["t"]), UTC),
            )
        except (binascii.Error, ValueError, KeyError, TypeError, InputError):
            return None
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        if moment - signup.at > self.lifetime or signup.at - moment > timedelta(minutes=5):
            return None
        return signup
