"""The ``digest`` command: in-process through its entry function, and a few real commands.

Most tests call ``digest.cli.main`` in this process (``run_digest``); the ones marked as such
run the installed command in a subprocess, so the entry points themselves stay tested.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import EXAMPLES, run_command, run_digest

SEED = EXAMPLES / "tangerangnews" / "newsletter.toml"


def test_build_writes_html_text_and_eml(tmp_path: Path) -> None:
    # The installed command, in a subprocess: the real entry point.
    result = run_command(
        "build",
        "--config",
        SEED,
        "--date",
        "2025-09-16",
        "--number",
        "12",
        "--out",
        tmp_path / "out",
    )
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [
        "edition-2025-09-16.digest.json",
        "edition-2025-09-16.eml",
        "edition-2025-09-16.html",
        "edition-2025-09-16.preview.html",
        "edition-2025-09-16.txt",
    ]
    assert "TangerangNews: COVID-19" in result.stdout
    assert str(tmp_path / "out" / "edition-2025-09-16.html") in result.stdout
    preview = (tmp_path / "out" / "edition-2025-09-16.preview.html").read_text()
    assert (EXAMPLES / "tangerangnews" / "images" / "lead-umkm.png").as_uri() in preview
    html = (tmp_path / "out" / "edition-2025-09-16.html").read_text()
    assert "https://tangerangnews.example/email/assets/lead-umkm.png" in html
    assert "file:" not in html


def test_python_dash_m_and_quiet(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "digest", "build", "--config", str(SEED), "--quiet"]  # noqa: RUF005
        + ["--date", "2025-09-16", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert (tmp_path / "edition-2025-09-16.eml").exists()


def test_every_command_has_an_example_in_its_help() -> None:
    from digest.cli import cli

    for name in cli.commands:
        result = run_digest(name, "--help")
        assert result.returncode == 0
        assert "Example:" in result.stdout, name


def write_config(folder: Path, data: object) -> Path:
    (folder / "articles.json").write_text(json.dumps(data) if not isinstance(data, str) else data)
    config = SEED.read_text().replace('data = "edition.json"', 'data = "articles.json"')
    config = config.replace('assets = "images"', "")
    (folder / "newsletter.toml").write_text(config)
    return folder / "newsletter.toml"


ARTICLE = {
    "title": "A title",
    "url": "https://example.org/a",
    "section": "BANTEN",
    "published_at": "2025-09-13T15:29:00+07:00",
}


@pytest.mark.parametrize(
    ("data", "code", "message"),
    [
        ("{not json", 1, "articles.json:1:2: not valid JSON"),
        (
            {"articles": [{**ARTICLE, "image_url": "a.png"}]},
            1,
            "articles[0]: image_alt: the image 'a.png' needs alt text",
        ),
        ({"articles": [{**ARTICLE, "published_at": "2025-09-13"}]}, 1, "articles[0].published_at"),
        (
            {"articles": [{**ARTICLE, "url": "javascript:alert(1)"}]},
            1,
            "articles[0].url: the javascript: scheme is not allowed (allowed: http, https, mailto) (got 'javascript:alert(1)')",
        ),
        (
            {"articles": [{**ARTICLE, "titel": "typo"}]},
            1,
            "articles[0].titel: Extra inputs are not permitted",
        ),
        ({"articles": []}, 3, "no articles"),
    ],
    ids=["bad-json", "missing-alt", "naive-date", "javascript-url", "unknown-field", "empty"],
)
def test_bad_input_is_one_clear_line_and_leaves_no_files(
    tmp_path: Path, data: object, code: int, message: str
) -> None:
    config = write_config(tmp_path, data)
    out = tmp_path / "out"
    result = run_digest("build", "--config", config, "--date", "2025-09-16", "--out", out)
    assert result.returncode == code
    assert result.stderr.startswith("digest: error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_a_failed_build_keeps_the_previous_output(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"articles": [ARTICLE]})
    out = tmp_path / "out"
    assert (
        run_digest("build", "--config", config, "--date", "2025-09-16", "--out", out).returncode
        == 0
    )
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (tmp_path / "articles.json").write_text("[]")
    assert (
        run_digest("build", "--config", config, "--date", "2025-09-16", "--out", out).returncode
        == 1
    )
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    result = run_digest("build", "--config", tmp_path / "missing.toml", "--out", tmp_path)
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_a_bad_config_names_the_field(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"articles": [ARTICLE]})
    config.write_text(config.read_text().replace('locale = "id"', 'locale = "klingon"'))
    result = run_digest("build", "--config", config, "--out", tmp_path / "out")
    assert result.returncode == 1
    assert "newsletter.locale: unknown locale" in result.stderr
    assert "'klingon'" in result.stderr
