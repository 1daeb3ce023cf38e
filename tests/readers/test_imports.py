"""Reading the exports of other tools, and any CSV, into readers: ``read_import``."""

from __future__ import annotations

import codecs
import ipaddress
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.errors import InputError
from digest.readers.imports import MAX_PROBLEMS, iter_import, read_import

EXPORTS = Path(__file__).resolve().parent.parent / "fixtures" / "exports"


@pytest.mark.parametrize(
    ("file", "tool", "expected"),
    [
        (
            "mailchimp_subscribed_members_export.csv",
            "mailchimp",
            [
                ("ana.lima@example.org", "subscribed", "Ana Lima", "America/Sao_Paulo"),
                ("Budi@example.org", "subscribed", "Budi", "Asia/Jakarta"),
                ("chen.wei@example.net", "subscribed", None, None),
            ],
        ),
        (
            "mailchimp_unsubscribed_members_export.csv",
            "mailchimp",
            [
                ("dara@example.org", "unsubscribed", "Dara Okafor", "Africa/Lagos"),
                ("emil@example.de", "unsubscribed", "Emil Huber", "Europe/Berlin"),
            ],
        ),
        (
            "mailchimp_cleaned_members_export.csv",
            "mailchimp",
            [("fatima@example.org", "bounced", "Fatima", None)],
        ),
        (
            "listmonk_subscribers.csv",
            "listmonk",
            [
                ("gita@example.org", "subscribed", "Gita Rao", None),
                ("hugo@example.fr", "unsubscribed", "Hugo Martin", None),
                ("ines@example.es", "unsubscribed", "Inés García", None),
            ],
        ),
        (
            "substack_email_list.csv",
            "substack",
            [
                ("jun@example.jp", "subscribed", None, None),
                ("kofi@example.org", "unsubscribed", None, None),
                ("lea@example.org", "subscribed", None, None),
            ],
        ),
        (
            "buttondown_subscribers.csv",
            "buttondown",
            [
                ("mei@example.org", "subscribed", None, None),
                ("nils@example.se", "pending", None, None),
                ("omar@example.org", "unsubscribed", None, None),
                ("priya@example.org", "bounced", None, None),
                ("quinn@example.org", "subscribed", None, None),
            ],
        ),
        (
            "ghost_members.csv",
            "ghost",
            [
                ("rosa@example.org", "subscribed", "Rosa Parks", None),
                ("sam@example.org", "subscribed", "Sam Memberino", None),
                ("tove@example.no", "unsubscribed", "Tove", None),
            ],
        ),
    ],
)
def test_each_tools_export_keeps_its_statuses(
    file: str, tool: str, expected: list[tuple[str, str, str | None, str | None]]
) -> None:
    result = read_import((EXPORTS / file).read_bytes(), file)
    assert result.tool == tool
    assert result.problems == []
    assert [(r.address, r.status, r.name, r.timezone) for r in result.rows] == expected
    assert all(r.consent_at is None or r.consent_at.tzinfo is not None for r in result.rows)


def test_mailchimp_consent_is_the_confirm_time_and_ip_and_lines_count_newlines() -> None:
    file = "mailchimp_subscribed_members_export.csv"
    rows = read_import((EXPORTS / file).read_bytes(), file).rows
    assert rows[0].consent_at == datetime(2023, 4, 1, 10, 2, 11, tzinfo=UTC)
    assert rows[0].consent_ip == "198.51.100.7"
    assert rows[2].consent_at == datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)  # OPTIN_TIME
    # Budi's NOTES holds a line break: Chen's row starts on line 5.
    assert [r.line for r in rows] == [2, 3, 5]


def test_go_times_of_listmonk_read_with_their_offset() -> None:
    file = "listmonk_subscribers.csv"
    rows = read_import((EXPORTS / file).read_bytes(), file).rows
    assert rows[0].consent_at == datetime(2024, 1, 2, 10, 11, 12, 123456, tzinfo=UTC)
    assert rows[1].consent_at == datetime(2023, 7, 14, 7, 0, 0, 500000, tzinfo=UTC)


ROWS = "email,name,sections,timezone\nzoe@example.org,Zoë Ångström,town|business,Europe/Oslo\n"


@pytest.mark.parametrize(
    "data",
    [
        ROWS.encode("utf-8"),
        codecs.BOM_UTF8 + ROWS.encode("utf-8"),
        ROWS.encode("utf-16"),  # with its BOM
        ROWS.encode("cp1252"),
        ROWS.replace(",", ";").encode("cp1252"),
        ROWS.replace(",", "\t").encode("utf-8"),
        ROWS.replace("\n", "\r\n").replace(",", ";").encode("utf-8-sig"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16", "cp1252", "cp1252-semicolon", "tab", "excel-crlf"],
)
def test_the_same_rows_in_every_encoding_and_delimiter(data: bytes) -> None:
    result = read_import(data, "readers.csv")
    assert result.tool == "csv" and result.problems == []
    [row] = result.rows
    assert (row.address, row.name, row.sections, row.timezone) == (
        "zoe@example.org",
        "Zoë Ångström",
        ("town", "business"),
        "Europe/Oslo",
    )


@pytest.mark.parametrize(
    "column", ["address", "Email", "E-mail", "Email Address", "email_address", "EMAIL"]
)
def test_an_address_column_by_any_of_its_names(column: str) -> None:
    [row] = read_import(f"{column}\nkim@example.org\n".encode(), "a.csv").rows
    assert row.address == "kim@example.org"


def test_map_names_columns_and_fields() -> None:
    data = b"Mail,Who,Plan,Ignored\nlu@example.org,Lu,gold,x\n"
    mapping = {"Mail": "address", "who": "name", "Plan": "fields.plan"}
    [row] = read_import(data, "a.csv", mapping).rows
    assert (row.address, row.name, row.fields) == ("lu@example.org", "Lu", {"plan": "gold"})


def test_map_onto_a_tools_export_adds_its_other_columns() -> None:
    file = "ghost_members.csv"
    rows = read_import((EXPORTS / file).read_bytes(), file, {"labels": "fields.labels"}).rows
    assert rows[0].fields == {"labels": "supporters"}
    assert rows[1].fields == {}


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"Mail": "email"}, "'email' is not one of ours"),
        ({"Mail": "fields.no spaces"}, "is not one of ours"),
        ({"Nope": "address"}, "has no column 'Nope'"),
    ],
)
def test_a_wrong_map_is_an_input_error(mapping: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_import(b"Mail\na@example.org\n", "a.csv", mapping)


def test_status_overrides_every_row() -> None:
    rows = read_import(b"email,status\na@example.org,subscribed\n", "a.csv", None, "bounced").rows
    assert [r.status for r in rows] == ["bounced"]


def test_bad_rows_are_problems_with_their_lines_and_the_rest_is_read() -> None:
    data = (
        b"email,name,timezone,status,consent_at,consent_ip,language\n"
        b"ok@example.org,Ok,,,,,\n"
        b"not-an-address,Bad,,,,,\n"
        b"tz@example.org,,Mars/Base,,,,\n"
        b'"st@example.org",,,gone,,,\n'
        b"when@example.org,,,,yesterday,,\n"
        b"ip@example.org,,,,,999.1.1.1,\n"
        b"lang@example.org,,,,,,xx-nope\n"
        b",Nobody,,,,,\n"
        b"fine@example.org,Fine,,unsubscribed,2024-03-01T09:00:00Z,192.0.2.1,pt-BR\n"
    )
    result = read_import(data, "a.csv")
    assert [r.address for r in result.rows] == ["ok@example.org", "fine@example.org"]
    assert result.rows[1].language == "pt_BR" and result.rows[1].status == "unsubscribed"
    lines = [line for line, _ in result.problems]
    assert lines == [3, 4, 5, 6, 7, 8, 9]
    messages = dict(result.problems)
    assert messages[3].startswith("column 'email': not an email address")
    assert "(got 'not-an-address')" in messages[3]
    assert messages[4].startswith("column 'timezone': unknown time zone")
    assert "'gone'" in messages[5] and "column 'status'" in messages[5]
    assert "column 'consent_at'" in messages[6] and "'yesterday'" in messages[6]
    assert "column 'consent_ip': not an IP address" in messages[7]
    assert "column 'language'" in messages[8]
    assert "column 'email': no address" in messages[9]


def test_a_tools_bad_true_or_false_is_a_problem_naming_its_column() -> None:
    data = b"email,subscribed_to_emails\na@example.org,maybe\n"
    result = read_import(data, "members.csv")
    assert result.tool == "ghost"
    assert result.problems == [
        (2, "column 'subscribed_to_emails': not true or false (got 'maybe')")
    ]


def test_problems_are_capped_and_the_rest_counted() -> None:
    data = b"email\n" + b"bad\n" * (MAX_PROBLEMS + 7)
    result = read_import(data, "a.csv")
    assert len(result.problems) == MAX_PROBLEMS and result.more_problems == 7
    assert result.problems[-1][0] == MAX_PROBLEMS + 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no header line"),
        (b"\n\nemail\n", "no header line"),
        (b"name,city\nAnn,Oslo\n", "no address column"),
        (b"email\x00\x01\x02\n", "not a text file"),
        (b"email\n\x81\x8d\x8f@example.org\n", "not text"),
    ],
)
def test_a_file_that_cannot_be_read_at_all(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_import(data, "a.csv")


def test_blank_lines_are_skipped_and_rows_keep_their_line_numbers() -> None:
    rows = read_import(b"email\n\na@example.org\n,\nb@example.org\n", "a.csv").rows
    assert [(r.line, r.address) for r in rows] == [(3, "a@example.org"), (5, "b@example.org")]


def test_iter_import_reads_as_it_goes() -> None:
    reading = iter_import(b"email\na@example.org\nbad\nb@example.org\n", "a.csv")
    rows = iter(reading)
    assert next(rows).address == "a@example.org"
    assert reading.problems == []
    assert next(rows).address == "b@example.org"
    assert [line for line, _ in reading.problems] == [3]


@settings(max_examples=200, deadline=None)
@given(name=st.text(max_size=80), field=st.text(max_size=80))
def test_any_text_in_a_name_or_field_reads_or_is_a_problem(name: str, field: str) -> None:
    cells = [f'"{cell.replace(chr(34), chr(34) * 2)}"' for cell in ("a@example.org", name, field)]
    data = ("email,name,fields.note\n" + ",".join(cells) + "\n").encode("utf-8")
    try:
        result = read_import(data, "a.csv")
    except InputError:
        return
    assert len(result.rows) + len(result.problems) <= 1
    for row in result.rows:
        assert row.name is None or ("\n" not in row.name and row.name == row.name.strip())
        assert all("\n" not in value for value in row.fields.values())


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=200).map(lambda text: ("email,name,timezone\n" + text).encode()),
        st.text(max_size=200).map(lambda text: ("email;name\n" + text).encode("utf-16")),
        st.binary(max_size=200).map(lambda tail: b"Email Address,OPTIN_TIME\n" + tail),
    )
)
def test_any_bytes_read_or_are_an_input_error(data: bytes) -> None:
    try:
        result = read_import(data, "any.csv")
    except InputError:
        return
    assert all(line >= 2 for line, _ in result.problems)
    assert all(row.line >= 2 for row in result.rows)


def test_excels_sep_line_names_the_delimiter_and_lines_still_count_from_the_file() -> None:
    result = read_import(b"sep=;\nemail;name\na@example.org;A, B\nbad;C\n", "a.csv")
    assert [(r.line, r.name) for r in result.rows] == [(3, "A, B")]
    assert [line for line, _ in result.problems] == [4]


def test_an_overridden_status_is_not_checked() -> None:
    result = read_import(b"email,status\na@example.org,whatever\n", "a.csv", None, "bounced")
    assert result.problems == [] and result.rows[0].status == "bounced"


@given(ip=st.ip_addresses(v=4).map(str) | st.from_regex(r"\d{1,4}(\.\d{1,4}){2,4}", fullmatch=True))
def test_a_consent_ip_reads_as_the_ipaddress_module_reads_it(ip: str) -> None:
    result = read_import(f"email,consent_ip\na@example.org,{ip}\n".encode(), "a.csv")
    try:
        expected = str(ipaddress.ip_address(ip))
    except ValueError:
        assert [line for line, _ in result.problems] == [2]
    else:
        assert result.rows[0].consent_ip == expected


@settings(max_examples=300, deadline=None)
@given(
    when=st.text(max_size=40)
    | st.datetimes().map(str)
    | st.from_regex(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})? [+-]\d{4} [A-Z]{3}", fullmatch=True
    )
)
def test_any_consent_time_reads_with_a_zone_or_is_a_problem(when: str) -> None:
    cell = '"' + when.replace('"', '""') + '"'
    try:
        result = read_import(f"email,consent_at\na@example.org,{cell}\n".encode(), "a.csv")
    except InputError:
        return
    for row in result.rows:
        assert row.consent_at is None or row.consent_at.tzinfo is not None
    assert all("column 'consent_at'" in message for _, message in result.problems)
