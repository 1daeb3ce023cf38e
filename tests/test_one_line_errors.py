"""Every bad input is one line naming the source, the field and the value; exit 1, no
traceback. Feed items that fail are skipped with a warning and the rest of the feed is kept."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from .helpers import run_digest
from .mailservers import Inbox, start_smtp

CONFIG = """
data = ["articles.json"]
out = "out"
{extra}

[newsletter]
name = "Errors Weekly"
timezone = "UTC"

[newsletter.contact]
postal_address = "1 Test Street"
unsubscribe_url = "https://errors.example/unsubscribe"
{newsletter}

[newsletter.sender]
name = "Errors Weekly"
address = "news@example.org"
"""
ARTICLE = {
    "title": "A story",
    "url": "https://example.org/a",
    "section": "News",
    "published_at": "2026-11-20T12:00:00+00:00",
}


def setup(tmp_path: Path, articles: object = None, extra: str = "", newsletter: str = "") -> Path:
    (tmp_path / "newsletter.toml").write_text(CONFIG.format(extra=extra, newsletter=newsletter))
    data = {"articles": [ARTICLE]} if articles is None else articles
    (tmp_path / "articles.json").write_text(data if isinstance(data, str) else json.dumps(data))
    return tmp_path


def deep_json() -> str:
    return '{"articles": ' + "[" * 50_000 + "]" * 50_000 + "}"


CASES: dict[str, tuple[dict[str, object], str]] = {
    "deep-json": (dict(articles=deep_json()), "nested too deeply"),
    "huge-integer": (
        dict(articles='{"articles": [{"priority": ' + "9" * 5000 + "}]}"),
        "articles.json: not usable JSON",
    ),
    "date-format": (
        dict(newsletter="[newsletter.layout]\ndate_format = 'QQQQQQQQQQ'"),
        "date_format",
    ),
    "overflowing-date": (
        dict(articles={"articles": [{**ARTICLE, "published_at": "0001-01-01T00:00:00+23:59"}]}),
        "published_at: the date is out of range",
    ),
    "history-under-a-file": (dict(extra='history = "articles.json/history.sqlite3"'), "history"),
    "bad-port": (
        dict(articles={"articles": [{**ARTICLE, "url": "https://example.org:99999/a"}]}),
        "the port is not a number",
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_is_one_line(tmp_path: Path, case: str) -> None:
    options, message = CASES[case]
    folder = setup(tmp_path, **options)  # type: ignore[arg-type]
    result = run_digest("build", "--config", "newsletter.toml", "--date", "2026-11-23", cwd=folder)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("digest: error: "), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert not (folder / "out" / "edition-2026-11-23.html").exists()


@pytest.mark.parametrize("content", [b"not a database at all" * 100, b""])
def test_a_corrupt_or_newer_history_is_one_line_for_every_command(
    tmp_path: Path, content: bytes
) -> None:
    folder = setup(tmp_path, extra='history = "h.sqlite3"')
    path = folder / "h.sqlite3"
    if content:
        path.write_bytes(content)
        expected = "cannot open the edition history"
    else:
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA user_version = 99")
        expected = "written by a newer digest"
    for command in (["history"], ["build", "--date", "2026-11-23"]):
        result = run_digest(*command, "--config", "newsletter.toml", cwd=folder)
        assert result.returncode == 1, result.stderr
        assert result.stderr.count("\n") == 1 and expected in result.stderr


def test_bad_feed_items_are_skipped_and_the_rest_kept(tmp_path: Path) -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "t",
        "home_page_url": 5,
        "items": [
            {"id": "1", "title": "Kept", "url": "https://e.org/1",
             "date_published": "2026-11-20T10:00:00Z"},
            {"id": "2", "title": "Authors", "url": "https://e.org/2", "authors": ["bob"],
             "date_published": "2026-11-20T10:00:00Z"},
            {"id": "3", "title": "Port", "url": "https://e.org:abc/3",
             "date_published": "2026-11-20T10:00:00Z"},
            {"id": "4", "title": "Port", "url": "https://e.org:-1/4",
             "date_published": "2026-11-20T10:00:00Z"},
        ],
    }  # fmt: skip
    (tmp_path / "feed.json").write_text(json.dumps(feed))
    folder = setup(tmp_path, extra='[[sources]]\npath = "feed.json"\nformat = "jsonfeed"')
    result = run_digest("build", "--config", "newsletter.toml", "--date", "2026-11-23", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if "skipped" in line]
    assert len(warnings) == 2 and all("port" in w for w in warnings), result.stderr
    text = (folder / "out" / "edition-2026-11-23.txt").read_text()
    assert "Kept" in text and "Authors" in text


def test_a_csv_field_over_the_limit_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "items.csv").write_text(
        "title,url,published_at\n" + "x" * 200_000 + ",https://e.org/a,2026-11-20T10:00:00Z\n"
    )
    folder = setup(tmp_path, extra='[[sources]]\npath = "items.csv"')
    result = run_digest("build", "--config", "newsletter.toml", "--date", "2026-11-23", cwd=folder)
    assert result.returncode == 1 and "not readable as CSV" in result.stderr
    assert "Traceback" not in result.stderr


DELIVERY = '\n[delivery.smtp]\nhost = "127.0.0.1"\nport = 2525\nsecurity = "none"\n'

# The reproducers of bad input around a real week: each must end as one line, exit 1.
WEEK_CASES: dict[str, tuple[str, list[str], str]] = {
    "toml-huge-integer": ("quote_rest = " + "9" * 5000, [], "not usable TOML"),
    "toml-deep-arrays": ("nested = " + "[" * 5000 + "]" * 5000, [], "nested too deeply"),
    "tiny-rate": ("[delivery]\nrate = 1e-300" + DELIVERY, [], "rate: at least 0.01"),
    "far-date": ("", ["--date", "9999-12-31"], "--date"),
    "huge-number": ("", ["--number", "9223372036854775808"], "--number"),
    "foreign-history": ('history = "other.sqlite3"', [], "not an edition history"),
    "source-fifo": ('[[sources]]\npath = "fifo.json"', [], "it is a FIFO"),
    "source-device": ('[[sources]]\npath = "/dev/zero"', [], "it is a character device"),
}


@pytest.mark.parametrize("case", list(WEEK_CASES), ids=list(WEEK_CASES))
def test_a_real_weeks_bad_input_is_one_line(tmp_path: Path, case: str) -> None:
    import os

    extra, options, message = WEEK_CASES[case]
    folder = setup(tmp_path, extra=extra)
    os.mkfifo(folder / "fifo.json")  # nobody writes to it: a read would wait forever
    with sqlite3.connect(folder / "other.sqlite3") as db:
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    before = (folder / "other.sqlite3").read_bytes()
    result = run_digest(
        "build", "--config", "newsletter.toml", "--date", "2026-11-23", *options, cwd=folder
    )
    assert result.returncode in (1, 2), result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert len(lines) == (3 if result.returncode == 2 else 1), result.stderr  # click: usage
    assert (folder / "other.sqlite3").read_bytes() == before  # nothing written into it


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("password", 'password = "Pw-3xample-secret"'),
        ("token", 'token = "Pw-3xample-secret"'),
        ("api_key", 'api_key = "Pw-3xample-secret"'),
    ],
)
def test_a_secret_written_in_the_config_is_never_echoed(
    tmp_path: Path, name: str, line: str
) -> None:
    folder = setup(tmp_path, extra=DELIVERY + line)
    result = run_digest("build", "--config", "newsletter.toml", "--date", "2026-11-23", cwd=folder)
    assert result.returncode == 1 and f"delivery.smtp.{name}" in result.stderr
    assert "Pw-3xample" not in result.stderr


@pytest.mark.parametrize(
    ("encoding", "prefix", "ok"),
    [
        ("utf-8", b"", True),
        ("utf-8", b"\xef\xbb\xbf", True),
        ("utf-16-le", b"\xff\xfe", True),
        ("utf-16-be", b"\xfe\xff", True),
        ("latin-1", b"", False),
    ],
)
def test_recipients_files_in_the_encodings_people_save(
    tmp_path: Path, encoding: str, prefix: bytes, ok: bool
) -> None:
    from digest.delivery.eml import read_recipients_file
    from digest.errors import ConfigError

    path = tmp_path / "list.txt"
    path.write_bytes(
        prefix + "# Liste für José\nana@example.org\njose@bücher.example\n".encode(encoding)
    )
    if ok:
        assert read_recipients_file(path) == ["ana@example.org", "jose@xn--bcher-kva.example"]
    else:
        with pytest.raises(ConfigError, match=r"list.txt:1: not UTF-8 text \(byte 0xfc\)"):
            read_recipients_file(path)


def test_a_readers_csv_with_a_huge_field_or_another_encoding_is_one_line(tmp_path: Path) -> None:
    from digest.errors import InputError
    from digest.mail.readers import csv_rows

    huge = tmp_path / "huge.csv"
    huge.write_text("address,name\na@example.org,A\nb@example.org," + "x" * 200_000 + "\n")
    with pytest.raises(InputError, match=r"huge.csv:3: field larger than field limit"):
        list(csv_rows(huge))
    latin = tmp_path / "latin.csv"
    latin.write_bytes("address,name\na@example.org,Jürgen\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin.csv: not UTF-8 text; save the file as UTF-8"):
        list(csv_rows(latin))
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("address,name\na@example.org,Jürgen\n".encode("utf-16"))
    assert list(csv_rows(utf16)) == [{"address": "a@example.org", "name": "Jürgen"}]


def test_the_preview_on_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    import socket

    folder = setup(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_digest("preview", "--config", "newsletter.toml", "--port", port, cwd=folder)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and f"cannot serve on port {port}" in result.stderr


def test_send_reads_no_device_or_fifo_as_recipients_or_message(tmp_path: Path) -> None:
    import os

    folder = setup(tmp_path, extra=DELIVERY)
    os.mkfifo(folder / "list.txt")
    (folder / "edition.eml").write_bytes(b"From: a@example.org\r\n\r\nbody\r\n")
    for args, message in (
        (["edition.eml", "--recipients", "list.txt"], "list.txt: cannot read it: it is a FIFO"),
        (["edition.eml", "--recipients", "/dev/zero"], "it is a character device"),
        (["/dev/zero", "--to", "a@example.org"], "it is a character device"),
    ):
        result = run_digest("send", "--config", "newsletter.toml", *args, cwd=folder)
        assert result.returncode == 1, result.stderr
        assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def env_settings() -> list[str]:
    """Every setting of a config that names an environment variable (``*_env``), by its path."""
    import typing

    from pydantic import BaseModel

    from digest.schedule.config import BuildConfig

    found: list[str] = []
    seen: set[type] = set()

    def walk(model: type[BaseModel], where: str) -> None:
        seen.add(model)
        for name, field in model.model_fields.items():
            path = f"{where}.{name}" if where else name
            if name.endswith("_env"):
                found.append(path)
            for kind in typing.get_args(field.annotation) or (field.annotation,):
                if isinstance(kind, type) and issubclass(kind, BaseModel) and kind not in seen:
                    walk(kind, path)

    walk(BuildConfig, "")
    return sorted(found)


def test_the_env_settings_are_the_known_ones() -> None:
    assert env_settings() == [
        "delivery.postmark.token_env",
        "delivery.resend.key_env",
        "delivery.smtp.password_env",
        "delivery.smtp.username_env",
    ]


@pytest.mark.parametrize("value", ['"re_Pw3xampleSecret_9"', '"Pw-3xample secret"', "97531864209"])
@pytest.mark.parametrize("setting", env_settings())
def test_a_secret_written_where_its_variables_name_goes_is_never_echoed(
    tmp_path: Path, setting: str, value: str
) -> None:
    """A key pasted into ``key_env`` (and any ``*_env``) is refused without being shown."""
    from .helpers import run_command

    table, _, name = setting.rpartition(".")
    provider = table.removeprefix("delivery.")
    host = 'host = "127.0.0.1"\n' if provider == "smtp" else ""
    folder = setup(
        tmp_path,
        extra=f'[delivery]\nprovider = "{provider}"\n[{table}]\n{host}{name} = {value}\n',
    )
    (folder / "edition.eml").write_bytes(b"From: news@example.org\r\nSubject: s\r\n\r\nbody\r\n")
    result = run_command(
        "send", "--config", "newsletter.toml", "edition.eml", "--to", "me@example.org",
        cwd=folder,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and setting in result.stderr, result.stderr
    assert "not the secret itself" in result.stderr or "valid string" in result.stderr
    shown = result.stdout + result.stderr
    assert "3xample" not in shown and "97531864209" not in shown, shown


@pytest.mark.parametrize("setting", env_settings())
def test_a_variables_name_in_an_env_setting_is_taken(tmp_path: Path, setting: str) -> None:
    from digest.schedule.config import load_config

    table, _, name = setting.rpartition(".")
    provider = table.removeprefix("delivery.")
    host = 'host = "127.0.0.1"\n' if provider == "smtp" else ""
    folder = setup(
        tmp_path,
        extra=f'[delivery]\nprovider = "{provider}"\n[{table}]\n{host}{name} = "MY_SECRET_2"\n',
    )
    config = load_config(folder / "newsletter.toml")
    assert getattr(getattr(config.delivery, provider), name) == "MY_SECRET_2"


# An .eml as a mail program writes one: its own List-Unsubscribe on a real host.
HAND_WRITTEN = (
    "From: {sender}\r\nTo: {to}\r\nSubject: Hello\r\n"
    "List-Unsubscribe: <https://news.errors-weekly.org/unsubscribe>\r\n"
    "Date: Fri, 20 Nov 2026 12:00:00 +0000\r\n\r\nbody\r\n"
)


@pytest.fixture
def smtp_folder(tmp_path: Path) -> Iterator[tuple[Path, Inbox]]:
    """A config sending to an SMTP inbox on 127.0.0.1, and that inbox."""
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    folder = setup(tmp_path, extra=DELIVERY.replace("2525", str(port)))
    (folder / "list.txt").write_text("ana@example.org\nbo@example.org\n")
    yield folder, inbox
    controller.stop()


def send_command(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    from .helpers import run_command

    result = run_command("send", "--config", "newsletter.toml", *args, cwd=folder)
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.mark.parametrize(
    ("sender", "to", "shown"),
    [
        ("=?utf-8?q?Caf=C3=A9?= <news@example.org>", "readers@example.org", "Café"),
        ("=?utf-8?b?Q2Fmw6kgV2Vla2x5?= <news@example.org>", "x@example.org", "Café Weekly"),
        ("news@example.org", "=?utf-8?q?Caf=C3=A9_readers?= <r@example.org>", ""),
        ('"=?iso-8859-1?q?Jos=E9?=" <news@example.org>', "r@example.org", "José"),
    ],
)
def test_an_eml_with_encoded_words_in_from_or_to_is_sent(
    smtp_folder: tuple[Path, Inbox], sender: str, to: str, shown: str
) -> None:
    folder, inbox = smtp_folder
    (folder / "edition.eml").write_bytes(HAND_WRITTEN.format(sender=sender, to=to).encode())
    result = send_command(folder, "edition.eml", "--recipients", "list.txt")
    assert result.returncode == 0, result.stderr
    assert sorted(rcpt for _, (rcpt,), _ in inbox.received) == ["ana@example.org", "bo@example.org"]
    for mail_from, _, raw in inbox.received:
        assert mail_from == "news@example.org"
        message = message_from_bytes(raw, policy=policy.default)
        assert message["From"].addresses[0].display_name == shown


@pytest.mark.parametrize(
    ("header", "value"),
    [
        # An encoded word that decodes to a line break inside an address's display name.
        ("From", "=?utf-8?q?Caf=C3=A9=0D=0ABcc:_x@evil.example?= <news@example.org>"),
        ("To", "=?utf-8?q?Readers=0D=0A?= <r@example.org>"),
        # What the standard library's parser fails on with an IndexError.
        ("From", 'b"=?utf-8*en?q?("?@'),
    ],
)
def test_an_eml_whose_from_or_to_cannot_be_read_is_one_line(
    smtp_folder: tuple[Path, Inbox], header: str, value: str
) -> None:
    folder, inbox = smtp_folder
    fields = {"sender": "news@example.org", "to": "r@example.org"}
    fields["sender" if header == "From" else "to"] = value
    (folder / "edition.eml").write_bytes(HAND_WRITTEN.format(**fields).encode())
    for args in (["--recipients", "list.txt"], ["--to", "me@example.org"]):
        result = send_command(folder, "edition.eml", *args)
        assert result.returncode == 1, result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert f"edition.eml: the .eml's {header} header cannot be read (got '" in result.stderr
    assert inbox.received == []


def test_a_report_under_a_file_is_one_line_before_anything_is_sent(
    smtp_folder: tuple[Path, Inbox],
) -> None:
    folder, inbox = smtp_folder
    sender = "news@example.org"
    (folder / "edition.eml").write_bytes(HAND_WRITTEN.format(sender=sender, to=sender).encode())
    (folder / "notes.txt").write_text("a file, not a folder\n")
    for report, problem in (
        ("notes.txt/report.json", "notes.txt is not a folder"),
        ("missing/report.csv", "missing does not exist"),
    ):
        result = send_command(folder, "edition.eml", "--recipients", "list.txt", "--report", report)
        assert result.returncode == 1, result.stderr
        assert result.stderr == f"digest: error: --report {report}: {problem}\n"
    assert inbox.received == [] and not list(folder.glob("*.sends.sqlite3"))
    written = send_command(folder, "edition.eml", "--recipients", "list.txt", "--report", "r.csv")
    assert written.returncode == 0, written.stderr
    assert len(inbox.received) == 2 and (folder / "r.csv").exists()


@pytest.mark.parametrize("written", ["2026-02-30", "30/11/2026", "0001-01-01", "", "2026-11-30T07"])
def test_the_history_of_an_edition_with_a_bad_date_is_one_line(
    tmp_path: Path, written: str
) -> None:
    from digest.schedule.history import History

    from .helpers import run_command

    folder = setup(tmp_path, extra='history = "h.sqlite3"')
    History(folder / "h.sqlite3").close()
    with sqlite3.connect(folder / "h.sqlite3") as db:
        db.execute(
            "INSERT INTO editions VALUES (1, '2026-11-23', 'Fine', 'https://e.org/a', '', '')"
        )
        db.execute(
            "INSERT INTO editions VALUES (2, ?, 'Damaged', 'https://e.org/b', '', '')", (written,)
        )
    for command in (["history"], ["build", "--date", "2026-11-30"]):
        result = run_command(*command, "--config", "newsletter.toml", cwd=folder)
        assert result.returncode == 1, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert f"h.sqlite3: edition #2 has no usable date (got {written!r})" in result.stderr


@pytest.mark.parametrize(
    ("column", "written"), [("decided", "soon"), ("decided", "2026-13-45"), ("counts", "{not json")]
)
def test_the_history_over_a_damaged_ab_decision_is_one_line(
    tmp_path: Path, column: str, written: str
) -> None:
    from datetime import UTC, datetime

    from digest.delivery.abtest import Decision
    from digest.delivery.ledger import SendLedger
    from digest.schedule.history import History

    from .helpers import run_command

    folder = setup(tmp_path, extra='history = "h.sqlite3"')
    History(folder / "h.sqlite3").close()
    with sqlite3.connect(folder / "h.sqlite3") as db:
        db.execute(
            "INSERT INTO editions VALUES (4, '2026-11-23', 'Fine', 'https://e.org/a', '', '')"
        )
    key = "Errors Weekly 2026-11-23 #4"
    with SendLedger(folder / "h.sends.sqlite3") as ledger:
        ledger.test_started(key, datetime(2026, 11, 23, 7, tzinfo=UTC))
        ledger.record_decision(
            key, Decision("B", "rule", datetime.now(UTC), {"A": (5, 1), "B": (5, 3)})
        )
    shown = run_command("history", "--config", "newsletter.toml", cwd=folder)
    assert shown.returncode == 0 and "A/B: subject B won" in shown.stdout, shown.stderr
    with sqlite3.connect(folder / "h.sends.sqlite3") as db:
        db.execute(f"UPDATE subject_tests SET {column} = ?", (written,))
    result = run_command("history", "--config", "newsletter.toml", cwd=folder)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"the A/B decision of {key} is damaged" in result.stderr


#: Secrets as a .env file with CRLF line ends, a stray newline or a byte that is not UTF-8
#: (passed on as the surrogate Python decodes it to) leave them in the environment.
BROKEN_SECRETS = {
    "resend-cr": ("resend", "RESEND_API_KEY", "re_Xy12AbCd_realSecretKey\r"),
    "postmark-lf": ("postmark", "POSTMARK_SERVER_TOKEN", "pm-token-realSecretValue\n"),
    "postmark-bytes": ("postmark", "POSTMARK_SERVER_TOKEN", "pm-token-\udcffrealSecretValue"),
    "smtp-password-cr": ("smtp", "DIGEST_SMTP_PASSWORD", "pw-realSecretValue\r"),
}


@pytest.mark.parametrize("case", list(BROKEN_SECRETS), ids=list(BROKEN_SECRETS))
def test_a_secret_in_the_environment_that_cannot_be_one_is_never_echoed(
    tmp_path: Path, case: str
) -> None:
    from .helpers import run_command

    provider, variable, value = BROKEN_SECRETS[case]
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    table = {
        "smtp": f'[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "ssl"\n',
        "postmark": '[delivery.postmark]\nbase_url = "https://127.0.0.1:9"\n',
        "resend": '[delivery.resend]\nbase_url = "https://127.0.0.1:9"\n',
    }[provider]
    folder = setup(tmp_path, extra=f'[delivery]\nprovider = "{provider}"\n{table}')
    (folder / "edition.eml").write_bytes(
        HAND_WRITTEN.format(sender="n@x.org", to="r@x.org").encode()
    )
    env = {**os.environ, variable: value, "DIGEST_SMTP_USER": "editor"}
    try:
        result = run_command(
            "send", "--config", "newsletter.toml", "edition.eml", "--to", "me@example.org",
            cwd=folder, env=env,
        )  # fmt: skip
    finally:
        controller.stop()
    assert result.returncode == 1, result.stderr
    assert result.stderr == (
        f"digest: error: {variable}: holds a line break, a control character or bytes that "
        "are not UTF-8 (a .env file with CRLF line ends?); the value is not shown\n"
    )
    assert "realSecret" not in result.stdout + result.stderr
    assert inbox.received == []


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("DIGEST_UNSUBSCRIBE_SECRET", "a-long-\udcffunsubscribe-secret", "holds a line break"),
        ("DIGEST_POSTMARK_WEBHOOK_PASSWORD", "hook-password\r", "holds a line break"),
        ("DIGEST_RESEND_WEBHOOK_SECRET", "whsec_not*base64!", "whsec_ and base64"),
        ("DIGEST_RESEND_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\r", "line break"),
    ],
)
def test_digest_serve_refuses_to_start_with_a_secret_that_cannot_be_one(
    tmp_path: Path, variable: str, value: str, reason: str
) -> None:
    """One line and exit 1 at the start, not a 500 on every request later."""
    from .helpers import run_command
    from .mailservers import free_port

    folder = setup(tmp_path)
    env = {**os.environ, variable: value}
    result = run_command(
        "serve", "--config", "newsletter.toml", "--port", str(free_port()), cwd=folder, env=env
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(
        f"digest: error: {variable}: "
    )
    assert reason in result.stderr and "the value is not shown" in result.stderr
    assert value.strip() not in result.stderr
