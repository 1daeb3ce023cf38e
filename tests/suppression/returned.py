"""Real DSN and ARF reports (tests/fixtures/reports, sisimai/set-of-emails, BSD 2-clause) made
to answer a message digest really sent: the report's own bytes, with the message it returns
swapped for the sent one (only its header, where the report returns only headers)."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

from ..helpers import FIXTURES

REPORTS = FIXTURES / "reports"

_ENCLOSED = re.compile(
    rb"^content-type:[ \t]*(message/rfc822|text/rfc822-headers?)\b", re.IGNORECASE | re.MULTILINE
)


def enclose(report: bytes | str, sent: bytes) -> bytes:
    """The report (bytes, or a fixture's name) returning ``sent`` instead of its own message."""
    raw = (REPORTS / report).read_bytes() if isinstance(report, str) else report
    boundary = message_from_bytes(raw, policy=policy.compat32).get_boundary()
    assert boundary is not None
    found = _ENCLOSED.search(raw)
    assert found is not None, "the report encloses no message"
    newline = b"\r\n" if b"\r\n" in raw[: found.start()] else b"\n"
    start = raw.index(newline * 2, found.end()) + 2 * len(newline)
    delimiter = newline + b"--" + boundary.encode()
    end = raw.find(delimiter, start)
    # A report whose relay cut it after the returned part's header ends with it, closed.
    rest = raw[end:] if end >= 0 else delimiter + b"--" + newline
    returned = sent.replace(b"\r\n", b"\n")
    if found.group(1).lower().startswith(b"text/"):
        returned = returned.split(b"\n\n", 1)[0] + b"\n"
    return raw[:start] + returned.replace(b"\n", newline) + rest


def mbox(*messages: bytes) -> bytes:
    """An mbox file of ``messages`` (mboxrd: body lines from ``From `` quoted)."""
    out = []
    for message in messages:
        body = re.sub(rb"(?m)^(>*From )", rb">\1", message.replace(b"\r\n", b"\n"))
        out.append(b"From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n" + body.rstrip(b"\n") + b"\n\n")
    return b"".join(out)
