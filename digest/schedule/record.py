"""What a built edition is made of, kept beside its ``.eml`` for each reader's own copy.

``digest build`` writes ``edition-DATE.digest.json`` next to ``edition-DATE.eml``: the
selected edition (lead, sections, quote) and the rendered subject, preheader, HTML and text,
with a hash of the ``.eml`` it belongs to. ``digest send`` to the reader store reads it back
(``read_record``) to make each reader's copy (their sections, their name) as the library's
``Mailing`` does; an ``.eml`` with no record, or a record of another ``.eml``, is sent as
it is, to everyone alike.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import ValidationError

from digest.edition import Edition
from digest.errors import DigestError
from digest.files import read_file
from digest.pipeline import Digest
from digest.render.renderer import RenderOptions
from digest.schedule.config import BuildConfig

__all__ = ["RECORD_SUFFIX", "read_record", "record_bytes", "record_path"]

#: The record's name is the ``.eml``'s with this suffix for ``.eml``.
RECORD_SUFFIX = ".digest.json"
_FORMAT = 1
# A record holds one edition's HTML and text twice at most (the size budget is far less).
_MAX_BYTES = 20 * 1024 * 1024


def record_path(eml: Path) -> Path:
    """Where the record of ``eml`` is: ``edition-DATE.digest.json`` beside it."""
    return eml.with_name(eml.name.removesuffix(".eml") + RECORD_SUFFIX)


def record_bytes(digest: Digest, eml: bytes) -> bytes:
    """The record of ``digest``, built into the ``.eml`` bytes ``eml``, as JSON."""
    record = {
        "format": _FORMAT,
        "eml_sha256": hashlib.sha256(eml).hexdigest(),
        "edition": digest.edition.model_dump(mode="json"),
        "subject": digest.subject,
        "preheader": digest.preheader,
        "html": digest.html,
        "text": digest.text,
    }
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


def read_record(config: BuildConfig, eml: Path, raw: bytes) -> tuple[Digest | None, str]:
    """The digest ``eml`` (read as ``raw``) was built from, or None and why not ("": no record).

    The newsletter and the templates are the config's, as for the build.
    """
    path = record_path(eml)
    if not path.exists():
        return None, ""
    why = f"{path.name} cannot be read"
    try:
        record = json.loads(read_file(path, "the edition's record", _MAX_BYTES))
        if not isinstance(record, dict) or record.get("format") != _FORMAT:
            return None, f"{why}: not a record digest build wrote"
        if record.get("eml_sha256") != hashlib.sha256(raw).hexdigest():
            return None, f"{path.name} is the record of another build of {eml.name}"
        digest = Digest(
            edition=Edition.model_validate(record["edition"]),
            newsletter=config.newsletter,
            subject=str(record["subject"]),
            preheader=str(record["preheader"]),
            html=str(record["html"]),
            text=str(record["text"]),
            options=RenderOptions(template_dir=config.templates),
        )
    except (ValueError, KeyError, TypeError, ValidationError, DigestError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        return None, f"{why}: {first}"
    return digest, ""
