"""The pre-joined fast path: a message written once around the places of each copy's own bytes.

Most readers' copies differ from each other only in the ``To`` address, the hash of it in the
``Message-ID``, the token in ``List-Unsubscribe`` and the values in the bodies. A ``CopyPlan``
holds the header lines the header writer wrote once, cut at those places; a copy is then one
join (``write_copy``). Whoever makes a plan checks it against the general path for a stand-in
reader (``digest.mail.copies``), so a plan never writes a byte the general path would not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from digest.mail.mime.body import EncodedBody, frame, write_copy

__all__ = ["CopyPlan"]


@dataclass(frozen=True)
class CopyPlan:
    """A variant's message written once around the places of the reader's own bytes.

    A copy is ``before_to``, the address, ``after_to``, the hash of the address,
    ``after_id``, the List-Unsubscribe line (``unsubscribe`` with the token between its two
    halves, or ``fixed_unsubscribe`` for readers without a token), ``after_unsubscribe``,
    then the bodies inside ``framing``.
    """

    before_to: bytes
    after_to: bytes
    after_id: bytes
    unsubscribe: tuple[bytes, bytes] | None
    fixed_unsubscribe: bytes
    after_unsubscribe: bytes
    framing: tuple[bytes, ...]

    @classmethod
    def around(
        cls,
        lines: Mapping[str, bytes],
        stand_in: bytes,
        boundary: str,
        subtypes: Sequence[str],
    ) -> CopyPlan:
        """Cut written header ``lines`` where ``stand_in`` stands for a copy's own bytes.

        ``lines`` are the copy's header lines by name, written by the header writer: the
        ``Message-ID`` with ``stand_in`` where the reader's hash goes, ``List-Unsubscribe``
        with ``stand_in`` where the token goes (or b"" when no token can go there),
        ``Fixed-List-Unsubscribe`` for readers without a token, and ``List-Unsubscribe-Post``
        as readers without a token get it.
        """
        id_before, _, id_after = lines["Message-ID"].partition(stand_in)
        unsubscribe = None
        if lines.get("List-Unsubscribe"):
            before, _, after = lines["List-Unsubscribe"].partition(stand_in)
            unsubscribe = (before, after)
        return cls(
            before_to=lines["From"] + b"To: ",
            after_to=b"\r\n" + lines["Reply-To"] + lines["Subject"] + lines["Date"] + id_before,
            after_id=id_after,
            unsubscribe=unsubscribe,
            fixed_unsubscribe=lines["Fixed-List-Unsubscribe"],
            after_unsubscribe=lines["List-Unsubscribe-Post"]
            + lines["List-Id"]
            + lines["Feedback-ID"]
            + lines["X-Digest-Edition"],
            framing=tuple(frame(boundary, subtypes)),
        )

    def head(self, address: bytes, who: bytes, token: bytes | None) -> list[bytes]:
        """The copy's header pieces: its address, its hash and its token put in their places."""
        out = [self.before_to, address, self.after_to, who, self.after_id]
        if token is not None and self.unsubscribe is not None:
            out += (self.unsubscribe[0], token, self.unsubscribe[1])
        else:
            out.append(self.fixed_unsubscribe)
        out.append(self.after_unsubscribe)
        return out

    def write(
        self,
        address: bytes,
        who: bytes,
        token: bytes | None,
        bodies: Sequence[EncodedBody],
        values: Mapping[str, str],
    ) -> bytes:
        """The copy's whole message, in one join."""
        return write_copy(self.head(address, who, token), self.framing, bodies, values)
