"""Request bodies, read the one way every route of ``digest serve`` and of the desk reads them.

A body is read streamed, and refused (413) the moment it passes its route's limit, whatever
its ``Content-Length`` says and whether it is chunked or not, or (408) when it trickles in
for longer than ``BODY_DEADLINE``; JSON is refused (400) when it
nests deeper than ``MAX_DEPTH`` before the parser sees it (the parser recurses); its shape is
checked by a pydantic model. Each refusal is a ``Refused`` with its status and a one-line
reason, answered by the app's handler. A client that goes away mid-body is one line of log.
"""

from __future__ import annotations

import json
import logging
import re
from email import policy
from email.message import Message
from email.parser import BytesParser
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import anyio
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.types import Scope

from digest.errors import DigestError, describe_validation_error

__all__ = [
    "BODY_DEADLINE",
    "MAX_DEPTH",
    "TOKEN_PATHS",
    "ClientDisconnect",
    "Refused",
    "form_fields",
    "json_depth",
    "json_value",
    "log_disconnect",
    "read_body",
    "read_model",
    "redacted_path",
]

#: The deepest nesting of arrays and objects a JSON body may have.
MAX_DEPTH = 32
#: Seconds a body may take to arrive, however slowly it trickles in.
BODY_DEADLINE = 30.0

Model = TypeVar("Model", bound=BaseModel)

# A JSON string (escapes included); what is left between strings holds the brackets.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_JSON_KINDS = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "true or false",
    type(None): "null",
}


class Refused(DigestError):
    """A request a route does not take: the HTTP status and why (one line, never a secret)."""

    def __init__(self, status: int, reason: str) -> None:
        """Refuse with ``status`` (4xx, or 503 when a provider cannot be reached) for ``reason``."""
        reason = " ".join(reason.split())[:300]
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def read_body(request: Request, limit: int, deadline: float = BODY_DEADLINE) -> bytes:
    """The body, streamed; ``Refused`` past ``limit`` bytes (413) or ``deadline`` seconds (408)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and (len(declared) > 15 or int(declared) > limit):
        raise Refused(413, f"the body is over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    with anyio.move_on_after(deadline) as late:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Refused(413, f"the body is over {limit} bytes")
            chunks.append(chunk)
    if late.cancelled_caught:
        raise Refused(408, f"the body took over {deadline:g} s to arrive")
    return b"".join(chunks)


def json_depth(data: bytes) -> int:
    """How deep the arrays and objects of JSON text nest (brackets inside strings not counted)."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRING.sub(b"", data)):
        depth += 1 if match[0] in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def json_value(data: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """JSON text's value; ``Refused`` (400) when it is not JSON or nests over ``max_depth``."""
    if json_depth(data) > max_depth:
        raise Refused(400, f"the body nests deeper than {max_depth} levels")
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise Refused(400, "the body is not JSON") from None


def read_model(data: bytes, model: type[Model], empty: bool = False) -> Model:
    """A JSON body checked by ``model``; ``Refused`` (400) naming the field otherwise.

    With ``empty``, no body at all is taken as ``{}``.
    """
    value = json_value(data) if data.strip() or not empty else {}
    if not isinstance(value, dict):
        raise Refused(400, f"the body is not a JSON object (it is {_JSON_KINDS[type(value)]})")
    try:
        return model.model_validate(value)
    except ValidationError as error:
        raise Refused(400, describe_validation_error(error)) from None


def form_fields(data: bytes, content_type: str) -> list[tuple[str, str]]:
    """The fields of an HTML form's body, ``multipart/form-data`` or URL-encoded.

    RFC 8058 asks mail clients to send a one-click unsubscribe as ``multipart/form-data`` and
    allows ``application/x-www-form-urlencoded``: both are read (a body of any other type as
    the latter), names and values stripped of the white space around them; ``Refused`` (400)
    for multipart parts that cannot be read.
    """
    kind = content_type.split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
        message = BytesParser(policy=policy.compat32).parsebytes(head + data)
        if not message.is_multipart():
            raise Refused(400, "the form's parts cannot be read")
        fields = []
        for part in message.get_payload():
            if not isinstance(part, Message):
                continue
            name = part.get_param("name", header="content-disposition")
            value = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(value, bytes):
                fields.append((name, value.decode("utf-8", "replace").strip()))
        return fields
    text = data.decode("utf-8", "replace").strip()
    return [(k.strip(), v.strip()) for k, v in parse_qsl(text, keep_blank_values=True)]


def log_disconnect(log: logging.Logger, scope: Scope) -> None:
    """One line of log for a client that went away before its request was read."""
    log.warning("%s %s: the client went away mid-request", scope["method"], _path(scope))


#: The paths whose last part is a reader's token: a log never shows it.
TOKEN_PATHS = ("/unsubscribe/", "/preferences/", "/confirm/", "/c/", "/o/")


def redacted_path(path: str) -> str:
    """``path`` for a log: a reader's token cut out, at most 200 characters."""
    for tokened in TOKEN_PATHS:
        if path.startswith(tokened):
            return tokened + "…"
    return path[:200]


def _path(scope: Scope) -> str:
    return redacted_path(str(scope.get("path", "")))
