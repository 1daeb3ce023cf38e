"""``digest readers``: through the real entry point, from the config's folder and another."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from ..helpers import EXAMPLES, run_command, run_digest

SECRET = "s3cret-for-the-tests-0123456789"


def _config(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "newsletter.toml"
    text = (EXAMPLES / "riverside" / "newsletter.toml").read_text()
    config.write_text(text.replace('data = "articles.json"', "").replace('assets = "images"', ""))
    return config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return _config(tmp_path / "news")


def test_add_list_show_export_remove(config: Path, tmp_path: Path) -> None:
    added = run_digest(
        "readers", "add", "--config", config, "Ada@Example.org", "--name", "Ada",
        "--section", "news", "--timezone", "Europe/London", "--wording", "form-v2",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert added.stdout == "Ada@Example.org: subscribed\n"
    listed = run_digest("readers", "list", "--config", config, "--json")
    assert [(r["address"], r["status"]) for r in json.loads(listed.stdout)] == [
        ("Ada@example.org", "subscribed")
    ]
    shown = run_digest("readers", "show", "--config", config, "ada@example.org", "--json")
    held = json.loads(shown.stdout)
    assert held["consents"][0]["wording"] == "form-v2"
    assert held["reader"]["sections"] == ["news"]
    exported = run_digest("readers", "export", "--config", config, "-")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert rows[0]["address"] == "Ada@example.org" and rows[0]["consent_method"] == "by-hand"
    removed = run_digest("readers", "remove", "--config", config, "ada@example.org")
    assert removed.returncode == 0
    listed = run_digest("readers", "list", "--config", config, "--status", "unsubscribed")
    assert listed.stdout.startswith("Ada@example.org\tunsubscribed")
    suppressed = run_digest("suppress", "list", "--config", config)
    assert suppressed.stdout.startswith("ada@example.org\tunsubscribed")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "not-an-address"), "address 'not-an-address'"),
        (("add", "a@example.org", "--timezone", "Mars/Base"), "--timezone 'Mars/Base'"),
        (("show", "nobody@example.org"), "address 'nobody@example.org'"),
    ],
)
def test_a_mistake_exits_1_naming_it(config: Path, args: tuple[str, ...], message: str) -> None:
    done = run_digest("readers", args[0], "--config", config, *args[1:])
    assert done.returncode == 1
    assert message in done.stderr


def test_forget_needs_the_secret_and_keeps_an_unsubscribe(config: Path) -> None:
    run_digest("readers", "add", "--config", config, "gone@example.org")
    run_digest("readers", "remove", "--config", config, "gone@example.org")
    refused = run_digest("readers", "forget", "--config", config, "gone@example.org", env={})
    assert refused.returncode == 1 and "DIGEST_UNSUBSCRIBE_SECRET" in refused.stderr
    env = {"DIGEST_UNSUBSCRIBE_SECRET": SECRET}
    done = run_digest("readers", "forget", "--config", config, "gone@example.org", env=env)
    assert done.stdout == "gone@example.org: forgotten\n"
    again = run_digest("readers", "add", "--config", config, "gone@example.org", env=env)
    assert again.stdout == "gone@example.org: unsubscribed\n"


def test_the_installed_command_from_another_folder(config: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    relative = Path("..") / "news" / "newsletter.toml"
    done = run_command("readers", "add", "--config", relative, "b@example.org", cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    listed = run_digest("readers", "list", "--config", config)
    assert listed.stdout == "b@example.org\tsubscribed\t\n"


EXPORTS = Path(__file__).resolve().parent.parent / "fixtures" / "exports"


def _statuses(config: Path) -> dict[str, str]:
    listed = run_digest("readers", "list", "--config", config, "--json")
    return {r["address"]: r["status"] for r in json.loads(listed.stdout)}


def test_import_a_mailchimp_unsubscribed_file_stays_unsubscribed(config: Path) -> None:
    run_digest("readers", "add", "--config", config, "DARA@example.org")
    export = EXPORTS / "mailchimp_unsubscribed_members_export.csv"
    done = run_digest("readers", "import", "--config", config, export, "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["tool"], summary["added"], summary["updated"]) == ("mailchimp", 1, 1)
    assert _statuses(config) == {
        "DARA@example.org": "unsubscribed",  # case variants are one reader
        "emil@example.de": "unsubscribed",
    }
    again = run_digest("readers", "import", "--config", config, export, "--json")
    assert json.loads(again.stdout)["unchanged"] == 2
    suppressed = run_digest("suppress", "list", "--config", config)
    assert "emil@example.de\tunsubscribed" in suppressed.stdout
    # When Mailchimp says they left is kept with the event; the consent they once gave too.
    shown = json.loads(
        run_digest("readers", "show", "--config", config, "emil@example.de", "--json").stdout
    )
    (left,) = [e for e in shown["events"] if e["reason"] == "unsubscribed"]
    assert left["detail"] == "left 2023-12-24T18:00:00+00:00"
    assert [c["at"][:19] for c in shown["consents"]] == ["2020-03-03T03:03:03"]


def test_import_dry_run_changes_nothing(config: Path) -> None:
    export = EXPORTS / "buttondown_subscribers.csv"
    done = run_digest("readers", "import", "--config", config, export, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "buttondown: 5 added, 0 updated, 0 unchanged would be imported: 1 bounced, 1 pending, "
        "2 subscribed, 1 unsubscribed (2 never mailed)\n"
    )
    assert _statuses(config) == {}


def test_import_with_map(config: Path, tmp_path: Path) -> None:
    file = tmp_path / "list.csv"
    file.write_bytes(
        "Adresse;Nom;Fuseau\nmarie@example.fr;Marie Curie;Europe/Paris\n".encode("cp1252")
    )
    done = run_digest(
        "readers", "import", "--config", config, file,
        "--map", "Adresse=address", "--map", "Nom=name", "--map", "Fuseau=timezone",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = run_digest("readers", "show", "--config", config, "marie@example.fr", "--json")
    held = json.loads(shown.stdout)["reader"]
    assert (held["name"], held["timezone"]) == ("Marie Curie", "Europe/Paris")


def test_import_lists_bad_rows_by_line_and_imports_nothing(config: Path, tmp_path: Path) -> None:
    file = tmp_path / "list.csv"
    file.write_text("email,timezone\nok@example.org,\nnope,\nz@example.org,Mars/Base\n")
    done = run_digest("readers", "import", "--config", config, file)
    assert done.returncode == 1
    assert f"{file}:3: column 'email': not an email address" in done.stderr
    assert f"{file}:4: column 'timezone': unknown time zone" in done.stderr
    assert "2 bad rows; nothing imported" in done.stderr
    assert _statuses(config) == {}


def test_an_export_imports_back_as_the_same_readers(config: Path, tmp_path: Path) -> None:
    run_digest(
        "readers", "add", "--config", config, "Ada@Example.org", "--name", "Ada Lovelace",
        "--section", "news", "--section", "sport", "--timezone", "Europe/London",
    )  # fmt: skip
    run_digest("readers", "add", "--config", config, "bo@example.org", "--name", "Bö")
    # A name a spreadsheet would run as a formula is exported with a ' and comes back as is.
    run_digest("readers", "add", "--config", config, "cy@example.org", "--name", "=Cy+1")
    run_digest("readers", "remove", "--config", config, "bo@example.org")
    # One who signed up elsewhere, with fields and the wording they agreed to, imported.
    first = tmp_path / "first.csv"
    first.write_text(
        "email,fields.plan,fields.city,consent_method,consent_source,consent_wording,consent_at\n"
        "dee@example.org,gold,Leeds,form,sign-up form,2026-12 form,2026-11-02T08:00:00Z\n"
    )
    assert run_digest("readers", "import", "--config", config, first).returncode == 0
    exported = tmp_path / "readers.csv"
    assert run_digest("readers", "export", "--config", config, exported).returncode == 0
    other = _config(tmp_path / "other")
    done = run_digest("readers", "import", "--config", other, exported, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["tool"] == "csv"

    def held(config: Path) -> list[tuple[object, ...]]:
        listed = json.loads(run_digest("readers", "list", "--config", config, "--json").stdout)
        keys = ("address", "status", "name", "sections", "timezone")
        return [tuple(r[key] for key in keys) for r in listed]

    def whole(config: Path) -> list[dict[str, object]]:
        return json.loads(run_digest("readers", "list", "--config", config, "--json").stdout)

    # Every column comes back: the consent's time, way, source and wording, and the fields.
    assert whole(other) == whole(config)
    (dee,) = [r for r in whole(other) if r["address"] == "dee@example.org"]
    assert dee["fields"] == {"plan": "gold", "city": "Leeds"}
    assert (dee["consent_method"], dee["consent_source"], dee["consent_wording"]) == (
        "form",
        "sign-up form",
        "2026-12 form",
    )
    assert dee["consent_at"] == "2026-11-02T08:00:00+00:00"
    assert held(other) == held(config)
    assert ("Ada@example.org", "subscribed", "Ada Lovelace", "news|sport", "Europe/London") in (
        held(other)
    )
    assert "'=Cy+1" in exported.read_text() and ("cy@example.org", "subscribed", "=Cy+1") in [
        row[:3] for row in held(other)
    ]


def test_import_lists_a_hundred_bad_rows_and_counts_the_rest(config: Path, tmp_path: Path) -> None:
    file = tmp_path / "list.csv"
    file.write_text("email\n" + "bad\n" * 103)
    done = run_digest("readers", "import", "--config", config, file)
    assert done.returncode == 1
    assert done.stderr.count("column 'email'") == 100
    assert "... and 3 more bad rows\n103 bad rows; nothing imported" in done.stderr


def test_import_shows_a_progress_bar_to_a_person_and_none_to_cron(config: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    export = EXPORTS / "mailchimp_subscribed_members_export.csv"
    command = [sys.executable, "-m", "digest", "readers", "import", "--config", str(config)]
    leader, follower = pty.openpty()
    on_a_terminal = subprocess.run(
        [*command, str(export)], stdout=subprocess.PIPE, stderr=follower, check=False
    )
    os.close(follower)
    shown = b""
    try:
        while chunk := os.read(leader, 65536):
            shown += chunk
    except OSError:  # the terminal closed once the command ended
        pass
    os.close(leader)
    assert on_a_terminal.returncode == 0
    assert b"importing" in shown and b"100%" in shown
    from_cron = subprocess.run([*command, str(export)], capture_output=True, check=False)
    assert from_cron.returncode == 0 and from_cron.stderr == b""
    assert b"3 unchanged" in from_cron.stdout


@pytest.mark.parametrize("secret", ["", "short", " " * 20])
def test_forget_needs_the_secret_its_hash_is_keyed_with(config: Path, secret: str) -> None:
    run_digest("readers", "add", "--config", config, "kim@example.org")
    refused = run_digest(
        "readers", "forget", "--config", config, "kim@example.org",
        env={"DIGEST_UNSUBSCRIBE_SECRET": secret},
    )  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr == (
        "digest: error: DIGEST_UNSUBSCRIBE_SECRET: set it (16 characters or more) to forget a "
        "reader: the keyed hash that keeps them unsubscribed is made with it\n"
    )
    assert "kim@example.org\tsubscribed" in run_digest("readers", "list", "--config", config).stdout


def _audience_zip(path: Path, bad: bool = False) -> Path:
    """Mailchimp's audience export as it downloads: a zip of its three files."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for status in ("cleaned", "unsubscribed", "subscribed"):  # not in the import's order
            data = (EXPORTS / f"mailchimp_{status}_members_export.csv").read_bytes()
            if bad and status == "cleaned":
                data = data.replace(b"@", b"", 1)  # its first row has no address any more
            archive.writestr(f"audience/{status}_members_export_8c1f.csv", data)
        archive.writestr("audience/README.txt", "not a CSV: left alone")
    return path


def test_a_mailchimp_audience_zip_imports_its_three_files_as_one(
    config: Path, tmp_path: Path
) -> None:
    audience = _audience_zip(tmp_path / "audience.zip")
    dry = run_digest("readers", "import", "--config", config, audience, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert _statuses(config) == {}
    done = run_digest("readers", "import", "--config", config, audience, "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert json.loads(dry.stdout) == {**summary, "dry_run": True}
    one_by_one = _config(tmp_path / "one-by-one")
    for status in ("subscribed", "unsubscribed", "cleaned"):
        file = EXPORTS / f"mailchimp_{status}_members_export.csv"
        assert run_digest("readers", "import", "--config", one_by_one, file).returncode == 0
    assert _statuses(config) == _statuses(one_by_one)
    assert summary["tool"] == "mailchimp"
    assert summary["added"] == len(_statuses(config))
    assert {"subscribed", "unsubscribed", "bounced"} <= set(summary["by_status"])
    again = run_digest("readers", "import", "--config", config, audience, "--json")
    assert json.loads(again.stdout)["unchanged"] == summary["added"]  # one import, run twice


def test_a_zip_with_one_bad_file_imports_nothing(config: Path, tmp_path: Path) -> None:
    audience = _audience_zip(tmp_path / "audience.zip", bad=True)
    done = run_digest("readers", "import", "--config", config, audience)
    assert done.returncode == 1
    assert f"{audience}:audience/cleaned_members_export_8c1f.csv:2: column 'Email Address'" in (
        done.stderr
    )
    assert "1 bad rows; nothing imported" in done.stderr
    assert _statuses(config) == {}


def test_a_zip_without_a_csv_is_refused(config: Path, tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "photos.zip", "w") as archive:
        archive.writestr("a.png", b"\x89PNG")
    done = run_digest("readers", "import", "--config", config, tmp_path / "photos.zip")
    assert done.returncode != 0
    assert done.stderr.strip().endswith("photos.zip: a zip with no .csv file in it")
