"""``digest suppress export`` writes a CSV a spreadsheet reads as data, never as formulas."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from ..helpers import run_command

CONFIG = """
[newsletter]
name = "Export Weekly"
timezone = "UTC"

[newsletter.contact]
postal_address = "1 Test Street"

[newsletter.sender]
name = "Export Weekly"
address = "news@export.example"
"""

#: Details that a spreadsheet would run: a formula after a carriage return, a line feed, a
#: tab, and at the start of the cell (OWASP's list: = + - @ tab CR).
DETAILS = ["\r=1", 'ok\r=HYPERLINK("http://evil")', "x\n+2", "\t-3", "@SUM(A1)", 'plain, "q"']


@pytest.fixture
def exported(tmp_path: Path) -> tuple[bytes, list[list[str]]]:
    (tmp_path / "newsletter.toml").write_text(CONFIG)
    rows = [["address", "reason", "detail"]] + [
        [f"r{n}@example.org", "complaint", detail] for n, detail in enumerate(DETAILS)
    ]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    (tmp_path / "in.csv").write_text(buffer.getvalue(), newline="")
    imported = run_command(
        "suppress", "import", "--config", "newsletter.toml", "in.csv", cwd=tmp_path
    )
    assert imported.returncode == 0, imported.stderr
    result = run_command(
        "suppress", "export", "--config", "newsletter.toml", "out.csv", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    raw = (tmp_path / "out.csv").read_bytes()
    return raw, list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))


def test_every_cell_is_quoted_and_every_line_ends_in_crlf(
    exported: tuple[bytes, list[list[str]]],
) -> None:
    raw, rows = exported
    assert rows[0] == ["address", "reason", "source", "at", "detail"]
    assert len(rows) == 1 + len(DETAILS)
    # Read as the records they are: each starts with a quote and ends with a quote and CRLF.
    text = raw.decode("utf-8")
    assert text.endswith('"\r\n')
    records, cell, quoted = [], "", False
    for character in text:  # records as a spreadsheet splits them: a quote opens or closes
        cell += character
        if character == '"':
            quoted = not quoted
        elif character == "\n" and not quoted:
            records.append(cell)
            cell = ""
    assert len(records) == len(rows) and cell == ""
    for record in records:
        assert record.startswith('"') and record.endswith('"\r\n'), repr(record)
        cells = next(csv.reader([record.removesuffix("\r\n")]))
        assert record == ",".join(f'"{c.replace(chr(34), 2 * chr(34))}"' for c in cells) + "\r\n"


def test_no_cell_reads_back_as_a_formula(exported: tuple[bytes, list[list[str]]]) -> None:
    _, rows = exported
    details = {row[0]: row[4] for row in rows[1:]}
    for n, detail in enumerate(DETAILS):
        shown = details[f"r{n}@example.org"]
        assert shown in (detail, "'" + detail)
        assert not shown.startswith(("=", "+", "-", "@", "\t", "\r")), repr(shown)
    for row in rows:  # a line break inside a cell stays there: no row starts after it
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), repr(cell)
    assert details["r0@example.org"] == "'\r=1"


def test_an_export_under_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "newsletter.toml").write_text(CONFIG)
    (tmp_path / "notes.txt").write_text("a file\n")
    result = run_command(
        "suppress", "export", "--config", "newsletter.toml", "notes.txt/out.csv", cwd=tmp_path
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr == "digest: error: notes.txt/out.csv: cannot write it: Not a directory\n"
