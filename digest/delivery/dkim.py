"""DKIM signatures (RFC 6376) on the SMTP path: rsa-sha256, relaxed/relaxed.

Every message gets a ``DKIM-Signature`` over its body and every header digest writes: From
(twice, so no second From can be added), To, Reply-To, Subject, Date, Message-ID,
List-Unsubscribe and List-Unsubscribe-Post (RFC 8058 §4 asks for both), List-Id, Feedback-ID,
X-Digest-Edition, MIME-Version and Content-Type. A header a message lacks is signed as
absent, so it cannot be added later.

The signature is put in front of the bytes as they are: the shared parts of a reader's copy
are never serialised again. The canonical forms are made here (a few regular expressions
over bytes) and the RSA signature by OpenSSL (``cryptography``): dkimpy's own RSA, in
Python, takes about 6 ms a message, which would make signing the slowest step of a send by
far (``benchmarks/signing.py``); dkimpy's verifier checks the results in the tests.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from typing import Any

from digest.delivery.settings import DkimSettings
from digest.errors import ConfigError, SendError
from digest.files import read_file
from digest.mail.message import HEADER_ORDER

__all__ = ["SIGNED_HEADERS", "DkimSigner", "relaxed_body", "relaxed_header"]


#: The headers every signature covers: every header digest writes, From twice (oversigned),
#: and the MIME lines.
SIGNED_HEADERS: tuple[str, ...] = ("From", *HEADER_ORDER, "MIME-Version", "Content-Type")

_WSP = re.compile(rb"[ \t]+")
_WSP_AT_LINE_END = re.compile(rb"[ \t]+(?=\r\n)")
_TRAILING_LINES = re.compile(rb"(?:\r\n)+\Z")
_FIELD_START = re.compile(rb"(?:^|(?<=\r\n))(?=[^ \t\r\n])")


def relaxed_body(body: bytes) -> bytes:
    """The body in the relaxed canonical form (RFC 6376 §3.4.4), as dkimpy verifies it."""
    body = _WSP.sub(b" ", _WSP_AT_LINE_END.sub(b"", body))
    body = _TRAILING_LINES.sub(b"\r\n", body) if body.endswith(b"\r\n") else body + b"\r\n"
    return b"" if body == b"\r\n" else body


def relaxed_header(field: bytes) -> bytes:
    """One header field (name, colon, value, folds) in the relaxed form, without its CRLF."""
    name, _, value = field.partition(b":")
    value = _WSP.sub(b" ", value.replace(b"\r\n", b"")).strip(b" \t")
    return name.strip(b" \t").lower() + b":" + value


def _fields(head: bytes) -> list[tuple[bytes, bytes]]:
    """The header fields of a head, each as its lowercase name and its whole text."""
    found = []
    for text in _FIELD_START.split(head):
        text = text.removesuffix(b"\r\n")
        if text:
            found.append((text.split(b":", 1)[0].strip(b" \t").lower(), text))
    return found


def _rsa_key(data: bytes, where: str) -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
    except ImportError:
        raise ConfigError(
            "DKIM signing needs cryptography: pip install 'newsletter-digest[dkim]'"
        ) from None
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise ConfigError(
            f"{where}: not a PEM private key without a passphrase ({error})"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 1024:
        raise ConfigError(f"{where}: DKIM needs an RSA key of 1024 bits or more (2048 advised)")
    return key


class DkimSigner:
    """Signs messages with one key, selector and domain."""

    def __init__(self, settings: DkimSettings) -> None:
        """Read the key of ``settings``; a ``ConfigError`` naming the file if it is unusable."""
        self.settings = settings
        where = str(settings.key_file)
        self.key = _rsa_key(read_file(settings.key_file, "DKIM key file", 64 * 1024), where)
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        self._padding, self._hash = padding.PKCS1v15(), hashes.SHA256()
        self.domain = settings.domain.lower()
        names = ":".join(name.lower() for name in SIGNED_HEADERS)
        self._tags = (
            f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={self.domain};\r\n"
            f" s={settings.selector}; h={names};\r\n"
        )

    def aligned(self, sender: str) -> bool:
        """Whether the signing domain is the From domain or a parent of it (DMARC alignment)."""
        domain = sender.rpartition("@")[2].lower()
        return domain == self.domain or domain.endswith("." + self.domain)

    def sign(self, data: bytes, sender: str, now: float | None = None) -> bytes:
        """``data`` (CRLF lines) with its ``DKIM-Signature`` header in front."""
        if not self.aligned(sender):
            raise SendError(
                f"DKIM: the signing domain {self.settings.domain} does not align with the From "
                f"address {sender} (use the From domain or a parent of it)"
            )
        head, separator, body = data.partition(b"\r\n\r\n")
        if not separator:
            raise SendError("DKIM: the message has no header block")
        body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest()).decode()
        stamp = int(time.time() if now is None else now)
        value = f" {self._tags} t={stamp}; bh={body_hash};\r\n b=".encode("ascii")
        by_name: dict[bytes, list[bytes]] = {}
        for field_name, text in _fields(head + b"\r\n"):
            by_name.setdefault(field_name, []).append(text)
        signed = []
        for name in SIGNED_HEADERS:
            instances = by_name.get(name.lower().encode("ascii"))
            if instances:  # the last instance not yet used first (RFC 6376 §5.4.2)
                signed.append(relaxed_header(instances.pop()) + b"\r\n")
        signed.append(relaxed_header(b"DKIM-Signature:" + value))
        signature = self.key.sign(b"".join(signed), self._padding, self._hash)
        encoded = base64.b64encode(signature)
        folded = b"\r\n ".join(encoded[i : i + 72] for i in range(0, len(encoded), 72))
        return b"DKIM-Signature:" + value + folded + b"\r\n" + data
