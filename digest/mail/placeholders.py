"""Placeholders: a variant rendered once with them, each reader's values filled in after.

``Tokens`` is ``reader`` as a template sees it while a variant renders: each value a
placeholder made of a random nonce. ``Split`` is a rendered part cut at those placeholders,
its pieces encoded once; filling in escapes each value for where it stands (text, an
attribute, or raw text) exactly as the HTML serialiser would have written it.
``ScratchValues`` is the reader as templates see them when a copy is rendered from scratch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from digest.mail.mime import quoted_printable
from digest.mail.unsubscribe import UnsubscribeLinks
from digest.models import Reader

__all__ = [
    "EmptyDefault",
    "FieldTokens",
    "ScratchValues",
    "Split",
    "Tokens",
    "Where",
    "escape",
    "reader_values",
]


Where = Literal["text", "attribute", "raw"]


# A value placed in an attribute is filled in only when it holds nothing an HTML serialiser
# might encode there (libxml2 percent-encodes spaces and non-ASCII in links); other values
# are rendered from scratch for that reader.
_ATTRIBUTE_SAFE = re.compile(r"[A-Za-z0-9\-_.!~*()@/:=?;#%&,+]*")


# The attribute a placeholder stands in (the last name=" before it, inside its tag), and what
# of its value comes before the placeholder.
_ATTRIBUTE_NAME = re.compile(r"([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*[\"']?([^\"'<>]*)\Z")


#: Attributes whose value is a URL a reader's value must not turn into javascript: or worse.
_URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "background", "poster", "cite", "srcset", "data"}
)


class Tokens(dict[str, Any]):
    """``reader`` in a template: placeholders made of a random nonce.

    Values that are empty for the readers of a variant are passed as they are (""), so that
    ``{% if reader.name %}`` is decided exactly; the others are placeholders, and the sandbox
    notes anything a template does with them besides printing them (see ``digest.render.sandbox``).
    """

    def __init__(self, nonce: str, present: frozenset[str], fields: tuple[str, ...]) -> None:
        self.nonce, self.present = nonce, present
        super().__init__(
            {
                key: self.token(key)
                for key in ("name", "address", "unsubscribe_url", "preferences_url")
            },
            fields=FieldTokens(self, fields),
        )

    def token(self, key: str) -> str:
        """The placeholder of ``key`` ("" when it is empty for this variant's readers)."""
        return f"@@{self.nonce}.{key}@@" if key in self.present else ""


class FieldTokens(dict[str, str]):
    """``reader.fields`` in a template: the readers' field names, each with its placeholder.

    The names come in the readers' order, with "" where the value is empty, so that the
    mapping iterates, counts, ``get``s and tests ``in`` as the reader's own does; a name none
    of them has is "".
    """

    def __init__(self, tokens: Tokens, names: tuple[str, ...]) -> None:
        super().__init__({name: tokens.token(f"fields.{name}") for name in names})
        self.tokens = tokens

    def __missing__(self, key: str) -> str:
        return self.tokens.token(f"fields.{key}")


def reader_values(reader: Reader, links: UnsubscribeLinks) -> dict[str, str]:
    """What fills a reader's placeholders: name, address, unsubscribe and preferences links."""
    values = {
        "name": reader.name or "",
        "address": reader.address,
        "unsubscribe_url": links.url_for(reader) or "",
        "preferences_url": links.preferences_for(reader) or "",
    }
    values.update({f"fields.{key}": value for key, value in reader.fields.items()})
    return values


def escape(value: str, where: Where) -> str:
    """Escape as lxml writes it after premailer: text escapes &<>, attributes also quotes."""
    if where == "raw":
        return value
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value.replace('"', "&quot;") if where == "attribute" else value


@dataclass(frozen=True)
class Split:
    """A pre-rendered part cut at its placeholders."""

    pieces: tuple[str, ...]
    keys: tuple[str, ...]
    places: tuple[Where, ...]
    encoded: tuple[bytes, ...]
    #: The values that stand in attributes: checked for each reader (``_ATTRIBUTE_SAFE``).
    attribute_keys: tuple[str, ...]
    #: The values that begin a link's or a picture's URL: checked as links for each reader.
    url_keys: tuple[str, ...] = ()

    @classmethod
    def of(cls, rendered: str, pattern: re.Pattern[str], markup: bool) -> Split:
        """Cut ``rendered`` at each match of ``pattern`` (its group 1 names the value).

        With ``markup``, each place is told apart: in an attribute, or in text.
        """
        pieces, keys, places = [], [], []
        urls: set[str] = set()
        start = 0
        for match in pattern.finditer(rendered):
            before = rendered[start : match.start()]
            pieces.append(before)
            keys.append(match.group(1))
            place: Where = "raw"
            if markup:
                # Inside a tag when the last "<" before the placeholder is after the last ">".
                opened = rendered.rfind("<", 0, match.start())
                place = "attribute" if opened > rendered.rfind(">", 0, match.start()) else "text"
                if place == "attribute":
                    named = _ATTRIBUTE_NAME.search(rendered, opened, match.start())
                    # A value that begins a URL decides its scheme (javascript:...).
                    if (
                        named is not None
                        and named.group(1).lower() in _URL_ATTRIBUTES
                        and not named.group(2).strip()
                    ):
                        urls.add(match.group(1))
            places.append(place)
            start = match.end()
        pieces.append(rendered[start:])
        in_attributes = {k for k, w in zip(keys, places, strict=True) if w == "attribute"}
        return cls(
            tuple(pieces),
            tuple(keys),
            tuple(places),
            tuple(quoted_printable(p) for p in pieces),
            tuple(sorted(in_attributes)),
            tuple(sorted(urls)),
        )

    def fill(self, values: Mapping[str, str]) -> str:
        """The part with ``values`` filled in, each escaped for where it stands."""
        out = [self.pieces[0]]
        for key, place, piece in zip(self.keys, self.places, self.pieces[1:], strict=True):
            out += (escape(values.get(key, ""), place), piece)
        return "".join(out)

    def fill_encoded(self, values: Mapping[str, str]) -> bytes:
        """The part filled in, quoted-printable."""
        out: list[bytes] = []
        self.extend_encoded(out, values, {})
        return b"".join(out)

    def extend_encoded(
        self, out: list[bytes], values: Mapping[str, str], done: dict[tuple[str, str], bytes]
    ) -> None:
        """Append the encoded pieces and values to ``out``; each value is encoded once."""
        out.append(self.encoded[0])
        for key, place, piece in zip(self.keys, self.places, self.encoded[1:], strict=True):
            value = done.get((key, place))
            if value is None:
                value = done[key, place] = quoted_printable(escape(values.get(key, ""), place))
            out.append(value)
            out.append(piece)

    def unsafe_in_attributes(self, values: Mapping[str, str]) -> bool:
        """Whether a value goes into an attribute that a serialiser might write differently.

        lxml picks an attribute's quote character from its value and libxml2 encodes spaces
        and non-ASCII in links, which filling in cannot follow: such a reader is rendered
        from scratch.
        """
        return not all(_ATTRIBUTE_SAFE.fullmatch(values.get(k, "")) for k in self.attribute_keys)


class ScratchValues(dict[str, Any]):
    """The reader as templates see it when rendered from scratch (fields as a mapping)."""

    def __init__(self, values: Mapping[str, str]) -> None:
        fields = {
            k.removeprefix("fields."): v for k, v in values.items() if k.startswith("fields.")
        }
        super().__init__(
            {k: v for k, v in values.items() if not k.startswith("fields.")},
            fields=EmptyDefault(fields),
        )


class EmptyDefault(dict[str, str]):
    """A mapping that gives "" for a name it has not (a field the reader has not)."""

    def __missing__(self, key: str) -> str:
        return ""
