"""A recipients file that is a CSV of readers (any export ``digest readers import`` reads)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from digest import email_bytes
from digest.delivery.eml import read_recipients, read_recipients_file
from digest.errors import InputError

from ..helpers import EXAMPLES, build_example, run_digest

EXPORTS = Path(__file__).resolve().parent.parent / "fixtures" / "exports"


@pytest.mark.parametrize(
    ("file", "addresses", "zones"),
    [
        (
            "mailchimp_subscribed_members_export.csv",
            ["ana.lima@example.org", "Budi@example.org", "chen.wei@example.net"],
            {"ana.lima@example.org": "America/Sao_Paulo", "budi@example.org": "Asia/Jakarta"},
        ),
        ("mailchimp_unsubscribed_members_export.csv", [], {}),
        ("mailchimp_cleaned_members_export.csv", [], {}),
        ("ghost_members.csv", ["rosa@example.org", "sam@example.org"], {}),
        ("buttondown_subscribers.csv", ["mei@example.org", "quinn@example.org"], {}),
    ],
)
def test_an_export_as_recipients_leaves_out_who_is_not_subscribed(
    file: str, addresses: list[str], zones: dict[str, str]
) -> None:
    found: dict[str, str] = {}
    assert read_recipients_file(EXPORTS / file, found) == addresses
    assert found == zones


def test_a_csv_with_statuses_and_zones_in_excels_encoding(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(
        (
            "E-mail;Name;Status;Time zone\r\n"
            "ana@example.org;Ana;subscribed;Europe/Lisbon\r\n"
            "bo@example.org;Bö;unsubscribed;\r\n"
            "cy@example.org;Cy;bounced;\r\n"
            "di@example.org;Di;pending;\r\n"
            "ANA@example.org;Ana again;subscribed;Asia/Tokyo\r\n"
            "ed@example.org;Éd;;\r\n"
        ).encode("cp1252")
    )
    zones: dict[str, str] = {}
    assert read_recipients_file(path, zones) == ["ana@example.org", "ed@example.org"]
    assert zones == {"ana@example.org": "Europe/Lisbon"}


def test_a_bad_row_names_its_line_column_and_value(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("email,timezone\na@example.org,\nb@example.org,Mars/Base\nnope,\n")
    with pytest.raises(InputError) as raised:
        read_recipients_file(path)
    message = str(raised.value)
    assert message.startswith(f"{path}:3: column 'timezone': unknown time zone")
    assert message.endswith("(and 1 more bad rows)")


def test_lines_that_start_with_a_header_are_a_csv_and_bare_lines_are_not() -> None:
    zones: dict[str, str] = {}
    lines = ["email,timezone", "kim@example.org,Asia/Seoul", "lee@example.org,"]
    assert read_recipients(lines, "list", zones) == ["kim@example.org", "lee@example.org"]
    assert zones == {"kim@example.org": "Asia/Seoul"}
    assert read_recipients(["email@example.org", "address@example.org"]) == [
        "email@example.org",
        "address@example.org",
    ]
    # Addresses typed one by one (--to) are never a header: "email" is a bad address there.
    with pytest.raises(InputError, match=r"^--to:1: not an email address"):
        read_recipients(["email"], "--to", header=False)


def test_send_dry_run_to_a_csv_of_readers(tmp_path: Path) -> None:
    eml = tmp_path / "edition.eml"
    eml.write_bytes(email_bytes(build_example("tangerangnews")))
    text = (EXAMPLES / "tangerangnews" / "newsletter.toml").read_text()
    config = tmp_path / "newsletter.toml"
    text = text.replace('data = "edition.json"', "").replace('assets = "images"', "")
    # Never reached by a dry run: a closed port of this machine.
    text += '\n[delivery.smtp]\nhost = "127.0.0.1"\nport = 9\nsecurity = "none"\n'
    config.write_text(text)
    export = EXPORTS / "mailchimp_subscribed_members_export.csv"
    done: subprocess.CompletedProcess[str] = run_digest(
        "send", "--config", config, eml, "--recipients", export, "--dry-run",
        "--allow-placeholder-links",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Would send edition.eml to 3 of 3" in done.stdout
