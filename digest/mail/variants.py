"""Subject variants carried in a built message: an A/B test's subjects beside its own.

``digest build`` with ``[delivery.subject_test]`` writes the edition's ``.eml`` with subject A
as its ``Subject`` and the others in ``X-Digest-Subject-B`` to ``-D``. ``digest send`` reads
them back (``subject_variants``): each variant is the message with that subject, and no
``X-Digest-Subject`` header goes to anyone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from email import policy as email_policy
from email.parser import BytesHeaderParser

from digest.errors import InputError
from digest.mail.mime import text_header

__all__ = ["VARIANT_HEADER", "subject_index", "subject_variants", "with_subject_variants"]

#: The header that carries subject ``B``, ``C`` or ``D`` (its letter follows).
VARIANT_HEADER = "X-Digest-Subject-"
LABELS = "ABCD"


def subject_index(edition: str, address: str, count: int) -> int:
    """Which of ``count`` subjects an address gets in ``edition``: by hash, the same every run."""
    if count < 2:
        return 0
    seed = f"{edition}\n{address}".encode()
    return int.from_bytes(hashlib.sha256(seed).digest()[:8], "big") % count


def _split(raw: bytes) -> tuple[list[bytes], bytes]:
    """The header fields (each with its folded lines) and the rest (blank line and body)."""
    data = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        raise InputError("the .eml has no header block")
    fields: list[bytes] = []
    for line in (head + b"\r\n").splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    return fields, b"\r\n" + body


def _name(field: bytes) -> str:
    return field.split(b":", 1)[0].strip().decode("ascii", "replace").lower()


def with_subject_variants(raw: bytes, subjects: Sequence[str]) -> bytes:
    """``raw`` with ``subjects[0]`` as its Subject and the others as variants B, C and D."""
    if not 2 <= len(subjects) <= len(LABELS):
        raise InputError(f"subjects: a test has two to four, not {len(subjects)}")
    fields, rest = _split(raw)
    written = [text_header("Subject", subjects[0])] + [
        text_header(VARIANT_HEADER + label, subject)
        for label, subject in zip(LABELS[1:], subjects[1:], strict=False)
    ]
    out: list[bytes] = []
    for field in fields:
        name = _name(field)
        if name.startswith(VARIANT_HEADER.lower()):
            continue
        out += written if name == "subject" else [field]
    if not any(_name(field) == "subject" for field in fields):
        raise InputError("the message has no Subject to test against others")
    return b"".join(out) + rest


def subject_variants(raw: bytes) -> dict[str, bytes]:
    """Each subject variant of a built message, by letter; ``{"": raw}`` when it has none.

    Every variant is the message with that variant's ``Subject``, without the variant
    headers; A is the message's own subject.
    """
    fields, rest = _split(raw)
    parsed = BytesHeaderParser(policy=email_policy.default).parsebytes(b"".join(fields) + rest)
    found = {
        label: str(parsed[VARIANT_HEADER + label])
        for label in LABELS[1:]
        if parsed[VARIANT_HEADER + label] is not None
    }
    if not found:
        return {"": raw}
    labels = "A" + "".join(sorted(found))
    if labels != LABELS[: len(labels)]:
        raise InputError(
            f"the .eml's subject variants are {', '.join(labels)}: they must follow A in order"
        )
    kept = [field for field in fields if not _name(field).startswith(VARIANT_HEADER.lower())]
    variants = {"A": b"".join(kept) + rest}
    for label, subject in found.items():
        variants[label] = (
            b"".join(
                text_header("Subject", subject) if _name(field) == "subject" else field
                for field in kept
            )
            + rest
        )
    return variants
