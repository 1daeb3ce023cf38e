"""DKIM signatures (RFC 6376) on the SMTP path, with dkimpy.

Every message gets a ``DKIM-Signature`` over its body and the headers that matter: From (twice,
so no second From can be added), To, Subject, Date, Message-ID, List-Unsubscribe and
List-Unsubscribe-Post (RFC 8058 §4 asks for both), List-Id, Feedback-ID, MIME-Version and
Content-Type, relaxed/relaxed. A header a message lacks is signed as absent, so it cannot be
added later. The signature is put in front of the bytes as they are: the shared parts of a
reader's copy are never serialised again.
"""

from __future__ import annotations

from types import ModuleType

from digest.delivery.settings import DkimSettings
from digest.errors import ConfigError, SendError
from digest.files import read_file

__all__ = ["SIGNED_HEADERS", "DkimSigner"]


#: The headers every signature covers (From twice: oversigned).
SIGNED_HEADERS: tuple[str, ...] = (
    "From",
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Id",
    "Feedback-ID",
    "MIME-Version",
    "Content-Type",
)


def _dkimpy() -> ModuleType:
    try:
        import dkim
    except ImportError:
        raise ConfigError(
            "DKIM signing needs dkimpy: pip install 'newsletter-digest[dkim]'"
        ) from None
    module: ModuleType = dkim
    return module


class DkimSigner:
    """Signs messages with one key, selector and domain."""

    def __init__(self, settings: DkimSettings) -> None:
        """Read the key of ``settings``; a ``ConfigError`` naming the file if it is unusable."""
        self.settings = settings
        self.dkim = _dkimpy()
        self.key = read_file(settings.key_file, "DKIM key file", 64 * 1024)
        if b"PRIVATE KEY" not in self.key:
            raise ConfigError(f"{settings.key_file}: not a PEM private key")
        self.selector = settings.selector.encode("ascii")
        self.domain = settings.domain.lower().encode("ascii")
        self._headers = [name.encode("ascii") for name in SIGNED_HEADERS]

    def aligned(self, sender: str) -> bool:
        """Whether the signing domain is the From domain or a parent of it (DMARC alignment)."""
        domain = sender.rpartition("@")[2].lower()
        own = self.domain.decode()
        return domain == own or domain.endswith("." + own)

    def sign(self, data: bytes, sender: str) -> bytes:
        """``data`` with its ``DKIM-Signature`` header in front."""
        if not self.aligned(sender):
            raise SendError(
                f"DKIM: the signing domain {self.settings.domain} does not align with the From "
                f"address {sender} (use the From domain or a parent of it)"
            )
        try:
            header: bytes = self.dkim.sign(
                data,
                self.selector,
                self.domain,
                self.key,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=self._headers,
                linesep=b"\r\n",
            )
        except self.dkim.DKIMException as error:
            raise SendError(f"DKIM: cannot sign with {self.settings.key_file}: {error}") from None
        return header + data
