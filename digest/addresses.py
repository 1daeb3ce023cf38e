"""Addresses: an email address checked by email-validator, its domain in IDNA 2008.

A plain ASCII local part is checked here and its domain once per domain (the same answer as
email-validator's, which a property test holds it to): lists of a million readers share a
few thousand domains.
"""

from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from digest.text import UNWANTED

__all__ = ["address_key", "email_address"]


# An ASCII dot-atom local part, which email-validator keeps exactly as it is.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


@lru_cache(maxsize=4096)
def _domain(domain: str) -> str | None:
    """A domain as email-validator checks and writes it (lowercase), or None if it refuses."""
    try:
        checked = validate_email(f"a@{domain}", check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return None
    return str(checked.ascii_domain).lower()


def email_address(value: str) -> str:
    """Check an address (no display name) with email-validator; the domain IDNA 2008-encoded.

    Raises ``ValueError``. A non-ASCII local part would need SMTPUTF8, which is not supported;
    a quoted one, a comment or an ``=?`` (an encoded word to a parser) is refused, so every
    address digest writes is plain by construction.
    A plain ASCII local part is checked here and its domain once per domain (the same
    answer as email-validator's, which a property test holds it to): lists of a million
    readers share a few thousand domains.
    """
    value = value.strip()
    local, at, domain = value.rpartition("@")
    if at and len(local) <= 64 and _DOT_ATOM.fullmatch(local) and "=?" not in local:
        checked_domain = _domain(domain)
        if checked_domain is not None and len(local) + 1 + len(checked_domain) <= 254:
            return f"{local}@{checked_domain}"
    return _email_address(value)


def address_key(address: str) -> str:
    """One reader's identity for matching: the checked address with its local part folded.

    ``READER1@EXAMPLE.ORG`` and ``reader1@example.org`` are one reader: every mailbox
    provider readers use treats the part before the @-sign without case. The address is
    still sent as written. (Checked addresses are ASCII, so lower case is the case fold.)
    """
    return address.lower()


def _email_address(value: str) -> str:
    """The whole check through email-validator, with its message when it refuses."""
    if UNWANTED.search(value) or any(ch in value for ch in "\r\n\t"):
        raise ValueError("not an email address: it holds control characters")
    try:
        checked = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise ValueError(f"not an email address: {error}") from None
    local, domain = str(checked.ascii_email).rsplit("@", 1)
    written = value.strip().rsplit("@", 1)[0]
    if written != local and written.lower() == local.lower():
        # email-validator 2.4 lowercases role mailboxes (Postmaster, Abuse, WWW): an address
        # is sent as written, and matched by ``address_key`` whatever its case.
        local = written
    if "=?" in local:
        # A parser decodes an encoded word even here: the address would read back as another
        # one, or as a line break, in the To header of the reader's copy.
        raise ValueError(
            "not an email address: '=?' before the @-sign reads as an encoded word (RFC 2047)"
        )
    if not _DOT_ATOM.fullmatch(local):
        # Quoted local parts and comments are valid but written by nobody: they would have to
        # be quoted again in every header, and some parsers read them as other addresses.
        raise ValueError("not an email address: only a plain (dot-atom) part before the @-sign")
    if len(local.encode()) > 64:
        raise ValueError("not an email address: the part before the @-sign is over 64 characters")
    return f"{local}@{domain.lower()}"
