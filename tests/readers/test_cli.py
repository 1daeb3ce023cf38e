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
