"""Bounces and complaints by mail count only when they answer a message this list sent.

An edition goes through a real SMTP server (aiosmtpd) so the send ledger has its rows; real
DSN and ARF reports (tests/fixtures/reports, sisimai/set-of-emails, BSD 2-clause) returning
those very bytes suppress their readers through the ``digest`` command. The same reports as
they are (another list's mail), a forged DSN, and an ARF about another list's message change
nothing; a report nested 2,000 multiparts deep stops nothing else in its mailbox.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from digest.suppression import Ours, UnsubscribeTokens, read_report
from digest.suppression.reports import MAX_DEPTH

from ..helpers import EXAMPLES, run_command, run_digest
from ..mailservers import Inbox, start_smtp
from .returned import REPORTS, enclose, mbox

SECRET = "the-unsubscribe-secret-of-the-newsroom"
DSN_READER = "userunknown@bouncehammer.jp"  # rfc3464-01's Final-Recipient
ARF_READER = "this-local-part-does-not-exist-on-yahoo@yahoo.com"  # arf-02's Original-Rcpt-To
FORWARDED = "kijitora@example.org"  # lhost-postfix-01's Original-Recipient
OPT_OUT = "user@example.com"  # arf-12's Removal-Recipient
REDACTED = "kim@example.net"  # arf-01 names nobody: its reader is in the returned link
READERS = [DSN_READER, ARF_READER, FORWARDED, OPT_OUT, REDACTED, "other@example.org"]
#: Each real report made to return the copy its reader got, and what it does.
OURS = {
    "rfc3464-01.eml": (DSN_READER, "hard-bounce"),
    "lhost-postfix-01.eml": (FORWARDED, "hard-bounce"),
    "arf-02.eml": (ARF_READER, "complaint"),
    "arf-12.eml": (OPT_OUT, "unsubscribed"),
    "arf-01.eml": (REDACTED, "complaint"),
}


@dataclass
class Sent:
    """A folder where an edition was sent: its config, and each reader's copy as received."""

    folder: Path
    copies: dict[str, bytes]

    def copy_to(self, target: Path) -> Path:
        """The folder copied (config, history, ledger), for one test's suppression list."""
        shutil.copytree(self.folder, target)
        return target / "newsletter.toml"


def _environment(secret: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DIGEST_UNSUBSCRIBE_SECRET"}
    return {**env, "DIGEST_UNSUBSCRIBE_SECRET": SECRET} if secret else env


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sent]:
    folder = tmp_path_factory.mktemp("sent") / "news"
    folder.mkdir()
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    try:
        text = (EXAMPLES / "tangerangnews" / "newsletter.toml").read_text()
        text = text.replace(
            'data = "edition.json"', f'data = "{EXAMPLES}/tangerangnews/edition.json"'
        )
        text = text.replace('assets = "images"', "").replace(
            "history = false", 'history = "news.history.sqlite3"'
        )
        text = text.replace(
            'unsubscribe_url = "https://tangerangnews.example/newsletter/berhenti"',
            'unsubscribe_url = "https://news.tangerangnews.id/unsubscribe/{token}"',
        )
        text += (
            f'\n[delivery]\nprovider = "smtp"\n'
            f'\n[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        )
        config = folder / "newsletter.toml"
        config.write_text(text)
        (folder / "readers.txt").write_text("\n".join(READERS) + "\n")
        env = _environment(secret=True)
        built = run_digest(
            "build", "--config", config, "--date", "2025-09-16", "--number", "12",
            "--out", folder / "out", "-q", env=env,
        )  # fmt: skip
        assert built.returncode == 0, built.stderr
        (eml,) = (folder / "out").glob("*.eml")
        send = run_digest(
            "send", "--config", config, eml, "--recipients", folder / "readers.txt", env=env
        )
        assert send.returncode == 0, send.stderr
    finally:
        controller.stop()
    copies = {recipients[0]: raw for _, recipients, raw in inbox.received}
    assert sorted(copies) == sorted(READERS)
    assert (folder / "news.sends.sqlite3").is_file()
    yield Sent(folder, copies)


def import_mail(
    config: Path, *paths: Path | str, secret: bool = True
) -> subprocess.CompletedProcess[str]:
    """``digest suppress import-mail`` run as its own process."""
    return run_command(
        "suppress", "import-mail", "--config", config, *paths, env=_environment(secret)
    )


def suppressed(config: Path) -> dict[str, str]:
    listed = run_digest("suppress", "list", "--config", config)
    assert listed.returncode == 0, listed.stderr
    return dict(line.split("\t")[:2] for line in listed.stdout.splitlines())


def good_reports(sent: Sent, folder: Path) -> Path:
    """The real reports, each returning the copy its reader got, as a folder of .eml files."""
    folder.mkdir()
    for name, (reader, _) in OURS.items():
        (folder / name).write_bytes(enclose(name, sent.copies[reader]))
    return folder


def test_our_copies_carry_what_a_report_is_matched_by(sent: Sent) -> None:
    message = message_from_bytes(sent.copies[DSN_READER], policy=policy.default)
    assert message["X-Digest-Edition"] == "TangerangNews 2025-09-16 #12"
    assert message["List-Id"].endswith("<tangerangnews.tangerangnews.example>")
    assert "/unsubscribe/1." in message["List-Unsubscribe"]


@pytest.mark.parametrize(
    "how", ["ledger", "token"], ids=["by-the-ledger", "by-the-signed-link-alone"]
)
def test_real_reports_returning_our_copies_suppress_their_readers(
    sent: Sent, tmp_path: Path, how: str
) -> None:
    config = sent.copy_to(tmp_path / "news")
    if how == "token":  # no ledger: only the signed unsubscribe link tells the copy ours
        (tmp_path / "news" / "news.sends.sqlite3").unlink()
    reports = good_reports(sent, tmp_path / "reports")
    # Without the secret, the redacted ARF (arf-01) names nobody: it is matched by its link.
    expected = dict(OURS.values()) if how == "token" else {
        reader: reason for reader, reason in OURS.values() if reader != REDACTED
    }  # fmt: skip
    result = import_mail(config, reports, secret=how == "token")
    assert result.returncode == 0, result.stderr
    assert (
        f"{len(OURS)} reports (0 other messages skipped): {len(expected)} events, "
        f"{len(expected)} new; 0 not ours, 0 unreadable"
    ) in result.stdout
    assert "not ours" not in result.stderr
    assert suppressed(config) == expected
    again = import_mail(config, reports, secret=how == "token")
    assert f"{len(expected)} events, 0 new; 0 not ours" in again.stdout, again.stderr


def test_the_real_reports_as_they_are_answer_another_list_and_change_nothing(
    sent: Sent, tmp_path: Path
) -> None:
    config = sent.copy_to(tmp_path / "news")
    # Their readers are readers of this list too: the returned mail is still not ours.
    result = import_mail(config, REPORTS, REPORTS / "mbox-0")
    assert result.returncode == 0, result.stderr
    assert "0 events, 0 new;" in result.stdout
    lines = [line for line in result.stderr.splitlines() if "not ours" in line]
    assert len(lines) > 30
    assert (
        f"{REPORTS / 'rfc3464-01.eml'}: not ours ({DSN_READER}): the enclosed message has no "
        "signed unsubscribe link (every copy has one)"
    ) in lines
    assert any(f"not ours ({ARF_READER})" in line for line in lines)
    # Without the secret, the send ledger tells: it never sent that message to that reader.
    unsigned = import_mail(config, REPORTS / "rfc3464-01.eml", secret=False)
    assert "0 events, 0 new; 1 not ours" in unsigned.stdout, unsigned.stderr
    assert unsigned.stderr.endswith(
        f"not ours ({DSN_READER}): the enclosed message "
        f"('<E1C50F1B-1C83-4820-BC36-AC6FBFBE8568@example.org>') is none this list sent to "
        f"{DSN_READER}\n"
    )
    assert suppressed(config) == {}


def forged_dsn(recipient: str, returned: bytes | None) -> bytes:
    """A delivery status notification as anyone can write and mail one."""
    boundary = "forged-boundary"
    parts = [
        f"--{boundary}\nContent-Type: text/plain\n\nYour message could not be delivered.\n",
        f"--{boundary}\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; "
        f"mx.evil.example\n\nFinal-Recipient: rfc822; {recipient}\nAction: failed\n"
        "Status: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 no such user\n",
    ]
    if returned is not None:
        head = returned.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode()
        parts.append(f"--{boundary}\nContent-Type: text/rfc822-headers\n\n{head}\n")
    return (
        "From: Mail Delivery System <mallory@evil.example>\nTo: bounces@tangerangnews.example\n"
        "Subject: Undelivered Mail Returned to Sender\nMessage-ID: <forged-1@evil.example>\n"
        f"MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; "
        f'boundary="{boundary}"\n\n' + "".join(parts) + f"--{boundary}--\n"
    ).encode()


def test_forged_reports_change_nothing(sent: Sent, tmp_path: Path) -> None:
    config = sent.copy_to(tmp_path / "news")
    ours = sent.copies["other@example.org"]
    forged = {
        # Any reader, and no returned message at all.
        "no-message.eml": forged_dsn(DSN_READER, None),
        # A real copy's headers, naming a reader it was not for and whom it never reached.
        "not-sent.eml": forged_dsn("never-a-reader@example.org", ours),
        # A real copy's headers, naming another reader of the edition than the one it was for.
        "another-reader.eml": forged_dsn(ARF_READER, ours),
        # The reader's own copy with its signed link cut out: the rest anyone on the list has.
        "stripped.eml": forged_dsn(ARF_READER, stripped(sent.copies[ARF_READER])),
    }
    folder = tmp_path / "forged"
    folder.mkdir()
    for name, data in forged.items():
        (folder / name).write_bytes(data)
    result = import_mail(config, folder)
    assert result.returncode == 0, result.stderr
    assert "4 reports (0 other messages skipped): 0 events, 0 new; 4 not ours" in result.stdout
    assert reasons(result) == {
        "no-message.eml": "no enclosed message to match with what this list sent",
        "not-sent.eml": "the enclosed message's unsubscribe link is another reader's",
        "another-reader.eml": "the enclosed message's unsubscribe link is another reader's",
        "stripped.eml": "the enclosed message has no signed unsubscribe link (every copy has one)",
    }
    # Without the secret, a copy's headers match only the reader it was to, as the ledger has.
    unsigned = import_mail(config, folder, secret=False)
    assert "1 events, 1 new; 3 not ours" in unsigned.stdout, unsigned.stderr
    assert reasons(unsigned) == {
        "no-message.eml": "no enclosed message to match with what this list sent",
        "not-sent.eml": "the enclosed message was to 'other@example.org'",
        "another-reader.eml": "the enclosed message was to 'other@example.org'",
    }
    # (A list that signs no links has only what anyone on it could copy: the reader's own
    # copy, with its link cut out, is still a copy the ledger sent them.)
    assert suppressed(config) == {ARF_READER: "hard-bounce"}
    run_digest("suppress", "remove", "--config", config, ARF_READER)
    # Nor does a copy's header block with To changed to a reader the edition never reached.
    to_stranger = ours.replace(b"To: other@example.org", b"To: never-a-reader@example.org")
    (folder / "not-sent.eml").write_bytes(forged_dsn("never-a-reader@example.org", to_stranger))
    assert reasons(import_mail(config, folder / "not-sent.eml", secret=False)) == {
        "not-sent.eml": "the send ledger has no never-a-reader@example.org for "
        "'TangerangNews 2025-09-16 #12'"
    }
    assert suppressed(config) == {}


def stripped(copy: bytes) -> bytes:
    """A copy without its List-Unsubscribe header."""
    return re.sub(rb"(?m)^List-Unsubscribe:.*\r?\n(?:[ \t].*\r?\n)*", b"", copy)


def reasons(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """What an import printed as not ours: the reason for each file."""
    return {
        Path(line.split(": not ours", 1)[0]).name: line.split("): ", 1)[1]
        for line in result.stderr.splitlines()
        if ": not ours (" in line
    }


def test_an_arf_about_another_lists_message_is_not_ours(sent: Sent, tmp_path: Path) -> None:
    config = sent.copy_to(tmp_path / "news")
    # arf-02 without Original-Rcpt-To: the reader is the returned message's To, one of ours,
    # but the message is another list's.
    raw = (REPORTS / "arf-02.eml").read_bytes()
    raw = raw.replace(f"Original-Rcpt-To: {ARF_READER}\n".encode(), b"")
    raw = raw.replace(b"\nTo: ", f"\nTo: {ARF_READER}\nX-Old-To: ".encode(), 1)
    (tmp_path / "arf.eml").write_bytes(raw)
    result = import_mail(config, tmp_path / "arf.eml", REPORTS / "arf-16.eml")
    assert result.returncode == 0, result.stderr
    assert "2 reports (0 other messages skipped): 0 events, 0 new; 8 not ours" in result.stdout
    assert f"arf.eml: not ours ({ARF_READER}): " in result.stderr
    assert suppressed(config) == {}


def test_trust_unmatched_believes_them_and_says_so(sent: Sent, tmp_path: Path) -> None:
    config = sent.copy_to(tmp_path / "news")
    result = run_command(
        "suppress", "import-mail", "--config", config, "--trust-unmatched",
        REPORTS / "rfc3464-01.eml", REPORTS / "arf-02.eml", env=_environment(secret=True),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "2 events, 2 new; 2 not ours (trusted), 0 unreadable" in result.stdout
    assert result.stderr.startswith(
        "digest: warning: --trust-unmatched: reports that answer no message of this list are "
        "believed; anyone who can mail this mailbox can suppress any address\n"
    )
    assert f"not ours (trusted anyway, {DSN_READER}): " in result.stderr
    assert "digest: warning: --trust-unmatched: 2 events of reports not ours were recorded" in (
        result.stderr
    )
    assert suppressed(config) == {DSN_READER: "hard-bounce", ARF_READER: "complaint"}


def nested(depth: int) -> bytes:
    """A report whose parts nest ``depth`` multiparts deep."""
    opening = b"".join(
        b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (n - 1, n)
        for n in range(1, depth)
    )
    closing = b"".join(b"--b%d--\n" % n for n in range(depth - 2, -1, -1))
    return (
        b"From: mallory@evil.example\nMessage-ID: <deep@evil.example>\nMIME-Version: 1.0\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b0\n\n"
        + opening
        + b"--b%d\nContent-Type: text/plain\n\nhi\n--b%d--\n" % (depth - 1, depth - 1)
        + closing
    )


def test_unreadable_reports_stop_nothing_else_in_the_mailbox(sent: Sent, tmp_path: Path) -> None:
    config = sent.copy_to(tmp_path / "news")
    box = tmp_path / "bounces.mbox"
    box.write_bytes(
        mbox(
            enclose("rfc3464-01.eml", sent.copies[DSN_READER]),
            nested(2000),
            nested(25),  # few parts, too deep
            enclose("arf-02.eml", sent.copies[ARF_READER]),
        )
    )
    result = import_mail(config, box)
    assert result.returncode == 6, result.stderr
    assert "2 reports (0 other messages skipped): 2 events, 2 new; 0 not ours, 2 unreadable" in (
        result.stdout
    )
    assert f"{box} #2: unreadable: more than 100 MIME parts\n" in result.stderr
    assert f"{box} #3: unreadable: MIME parts nested more than 20 deep\n" in result.stderr
    assert "internal error" not in result.stderr
    assert suppressed(config) == {DSN_READER: "hard-bounce", ARF_READER: "complaint"}


def test_a_report_too_big_to_read_is_unreadable_and_an_ordinary_one_skipped(
    sent: Sent, tmp_path: Path
) -> None:
    config = sent.copy_to(tmp_path / "news")
    folder = good_reports(sent, tmp_path / "reports")
    padding = b"x" * 1000 + b"\n"
    big = enclose("rfc3464-01.eml", sent.copies[DSN_READER]).replace(
        b"Not enough disk space\n", b"Not enough disk space\n" + padding * 10_600
    )
    (folder / "big.eml").write_bytes(big)
    (folder / "hello.eml").write_bytes(b"From: a@example.org\n\n" + padding * 10_600)
    result = import_mail(config, folder)
    assert result.returncode == 6, result.stderr
    assert f"{folder / 'big.eml'}: unreadable: larger than 10 MB\n" in result.stderr
    assert f"{len(OURS)} reports (1 other messages skipped)" in result.stdout
    assert "0 not ours, 1 unreadable" in result.stdout
    assert DSN_READER in suppressed(config)


REAL = {path.name: path.read_bytes() for path in sorted(REPORTS.glob("*.eml"))}
PIECES = [
    b"\n", b"\r\n\r\n", b"--", b";", b"=?utf-8?b?", b"?=", b"<>", b"@", b"\x00", b"\xff",
    b"Content-Type: message/rfc822\n\n", b"Content-Type: multipart/mixed; boundary=x\n\n",
    b"List-Id: <tangerangnews.tangerangnews.example>\n", b"X-Digest-Edition: TangerangNews\n",
    b"List-Unsubscribe: <https://news.tangerangnews.id/unsubscribe/1.eEBleGFtcGxlLm9yZw.AAAA>\n",
    b"Final-Recipient: rfc822; reader@example.org\nAction: failed\nStatus: 5.1.1\n",
]  # fmt: skip
edits = st.lists(
    st.tuples(
        st.floats(0, 1), st.integers(0, 60), st.sampled_from(PIECES) | st.binary(max_size=40)
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(REAL)), changes=edits)
def test_no_edit_of_a_real_report_breaks_the_reader_or_forges_a_reader(
    name: str, changes: list[tuple[float, int, bytes]]
) -> None:
    data = REAL[name]
    for where, cut, piece in changes:
        at = int(where * len(data))
        data = data[:at] + piece + data[at + cut :]
    # A list that signs its links: without the secret, no report is ever one of its own.
    tokens = UnsubscribeTokens(SECRET, "tangerangnews.tangerangnews.example")
    ours = Ours(tokens.list_id, tokens, lambda edition, address: True, signed=True)
    report = read_report(data, where=name, ours=ours)
    assert report is None or report.events == []


@settings(max_examples=40, deadline=None)
@given(depth=st.integers(1, 2500))
@example(depth=MAX_DEPTH)
@example(depth=MAX_DEPTH + 1)
@example(depth=2000)
def test_any_depth_of_nesting_is_read_or_named_unreadable(depth: int) -> None:
    report = read_report(nested(depth), where="deep")
    assert report is not None
    assert (report.kind == "unreadable") == (depth > MAX_DEPTH), report.note


HEAD = b"From: m@evil.example\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type="
FAILED = b"Action: failed\nStatus: 5.1.1\n\n"


def dsn_naming(count: int, kind: bytes = b"message/delivery-status") -> bytes:
    blocks = b"".join(
        b"Final-Recipient: rfc822; r%d@example.org\n" % n + FAILED for n in range(count)
    )
    return (
        HEAD + b"delivery-status; boundary=b\n\n--b\nContent-Type: " + kind + b"\n\n"
        b"Reporting-MTA: dns; x\n\n" + blocks + b"--b--\n"
    )


def arf_naming(count: int) -> bytes:
    named = b"".join(b"Original-Rcpt-To: r%d@example.org\n" % n for n in range(count))
    return (
        HEAD + b"feedback-report; boundary=b\n\n--b\nContent-Type: message/feedback-report\n\n"
        b"Feedback-Type: abuse\n" + named + b"\n--b--\n"
    )


def parts(count: int, lines: int = 1) -> bytes:
    part = b"--b\n\n" + b"x\n" * lines
    return HEAD + b"delivery-status; boundary=b\n\n" + part * count + b"--b--\n"


BOUNDS: dict[str, tuple[Callable[[int], bytes], int, str]] = {
    "lines": (lambda n: parts(1, n), 250_000 - 10, "more than 250,000 lines"),
    "parts": (parts, 99, "more than 100 MIME parts"),
    "DSN recipients": (dsn_naming, 100, "names more than 100 recipients"),
    "global DSN recipients": (
        lambda n: dsn_naming(n, b"message/global-delivery-status"),
        100,
        "names more than 100 recipients",
    ),
    "ARF recipients": (arf_naming, 100, "names more than 100 recipients"),
}


@pytest.mark.parametrize("bound", sorted(BOUNDS))
def test_a_report_just_beyond_a_bound_is_unreadable_and_one_within_is_read(bound: str) -> None:
    make, most, why = BOUNDS[bound]
    within, beyond = read_report(make(most)), read_report(make(most + 11))
    assert within is not None
    assert within.kind != "unreadable", within.note
    assert beyond is not None and (beyond.kind, beyond.note) == ("unreadable", why)
