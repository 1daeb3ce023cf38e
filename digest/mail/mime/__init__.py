"""MIME: the one writer of every message digest makes, single or personalised.

- ``headers``: every header line, written from a validated value and checked;
- ``body``: the quoted-printable parts, the ``multipart/alternative`` frame, and the join
  (``assemble`` for a whole message, ``write_copy`` for a copy made of pieces);
- ``plan``: the pre-joined fast path of personalised copies (``CopyPlan``);
- ``read``: a written message read back (its envelope sender, headers and parts).

Every byte of every message (the edition's, each reader's copy, a built ``.eml`` sent to a
list) is joined by ``assemble`` or ``write_copy``.
"""

from digest.mail.mime.body import EncodedBody as EncodedBody
from digest.mail.mime.body import MessageSpec as MessageSpec
from digest.mail.mime.body import Part as Part
from digest.mail.mime.body import assemble as assemble
from digest.mail.mime.body import container_headers as container_headers
from digest.mail.mime.body import frame as frame
from digest.mail.mime.body import quoted_printable as quoted_printable
from digest.mail.mime.body import write_copy as write_copy
from digest.mail.mime.headers import FOLD_AT as FOLD_AT
from digest.mail.mime.headers import address_header as address_header
from digest.mail.mime.headers import check_header_block as check_header_block
from digest.mail.mime.headers import check_header_line as check_header_line
from digest.mail.mime.headers import header_uri as header_uri
from digest.mail.mime.headers import id_header as id_header
from digest.mail.mime.headers import list_id_header as list_id_header
from digest.mail.mime.headers import one_line as one_line
from digest.mail.mime.headers import text_header as text_header
from digest.mail.mime.headers import token_header as token_header
from digest.mail.mime.headers import uri_list_header as uri_list_header
from digest.mail.mime.plan import CopyPlan as CopyPlan
from digest.mail.mime.read import ReadMessage as ReadMessage
from digest.mail.mime.read import envelope_sender as envelope_sender
from digest.mail.mime.read import read_message as read_message

__all__ = [
    "FOLD_AT",
    "CopyPlan",
    "EncodedBody",
    "MessageSpec",
    "Part",
    "ReadMessage",
    "address_header",
    "assemble",
    "check_header_block",
    "check_header_line",
    "container_headers",
    "envelope_sender",
    "frame",
    "header_uri",
    "id_header",
    "list_id_header",
    "one_line",
    "quoted_printable",
    "read_message",
    "text_header",
    "token_header",
    "uri_list_header",
    "write_copy",
]
