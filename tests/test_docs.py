"""The documentation tells the truth: every command, option and config key is documented, the
configuration reference is the models' own, the code blocks run, and the site builds."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from digest.cli import cli

from .helpers import ROOT

DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
CLI_PAGE = (DOCS / "cli.md").read_text()


def commands() -> list[tuple[str, click.Command]]:
    """Every command, and each command of a group as ``group sub``."""
    assert isinstance(cli, click.Group)
    found = []
    for name, command in sorted(cli.commands.items()):
        found.append((name, command))
        if isinstance(command, click.Group):
            found += [(f"{name} {sub}", each) for sub, each in sorted(command.commands.items())]
    return found


@pytest.mark.parametrize(("name", "command"), commands(), ids=[n for n, _ in commands()])
def test_every_command_and_option_is_documented(name: str, command: click.Command) -> None:
    group, _, sub = name.partition(" ")
    assert f"**`{group}`**" in CLI_PAGE or f"`digest {group}" in CLI_PAGE, name
    if sub:  # a group's command: named in the group's paragraph
        assert f"`{sub} " in CLI_PAGE or f"`{sub}`" in CLI_PAGE, name
    for parameter in command.params:
        for flag in getattr(parameter, "opts", []):
            if flag.startswith("-") and flag not in ("-h", "--help"):
                assert flag in CLI_PAGE, f"digest {name} {flag} is not in docs/cli.md"
    assert "Example:" in (command.help or ""), f"digest {name} --help has no example"


def test_the_configuration_reference_is_the_models_own() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "config_reference.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_every_key_of_the_examples_and_the_starter_config_is_in_the_reference(
    tmp_path: Path,
) -> None:
    import tomllib

    from .helpers import run_digest

    reference = (DOCS / "configuration.md").read_text()
    keys = set(re.findall(r"^\| `([a-z_]+)` \|", reference, re.M))
    run_digest("init", tmp_path / "starter.toml")
    configs = [tmp_path / "starter.toml", *sorted((ROOT / "examples").glob("*/newsletter.toml"))]

    def walk(table: dict[str, object], where: str) -> None:
        for key, value in table.items():
            assert key in keys, f"{where}: {key} is not in docs/configuration.md"
            if isinstance(value, dict) and key not in ("section_map", "web_fonts", "labels"):
                walk(value, f"{where}.{key}")
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, dict):
                        walk(item, f"{where}.{key}")

    for config in configs:
        walk(tomllib.loads(config.read_text()), config.name)


def code_blocks(path: Path) -> list[tuple[int, str, str]]:
    """The fenced blocks of a page: (line, language, code), less those marked not to run."""
    text = path.read_text()
    found = []
    for match in re.finditer(
        r"(?:<!-- not run: (?P<why>[^>]+) -->\n)?```(\w+)\n(.*?)```", text, re.S
    ):
        if match.group("why"):
            continue
        found.append((text[: match.start()].count("\n") + 1, match.group(2), match.group(3)))
    return found


PYTHON = [
    (path, line, code)
    for path in [ROOT / "README.md", *PAGES]
    for line, language, code in code_blocks(path)
    if language == "python"
]


@pytest.mark.parametrize(
    ("path", "line", "code"),
    PYTHON,
    ids=[f"{p.name}:{line}" for p, line, _ in PYTHON],
)
def test_every_python_block_runs_as_written(
    path: Path, line: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{path.name}:{line}", "exec"), {"__name__": "__docs__"})


def test_blocks_not_run_say_why() -> None:
    for path in [ROOT / "README.md", *PAGES]:
        for why in re.findall(r"<!-- not run: ([^>]*) -->", path.read_text()):
            assert len(why.split()) >= 4, f"{path.name}: say why the block cannot run"


DIGEST_LINES = [
    (path, command)
    for path in [ROOT / "README.md", *PAGES]
    for _, language, code in code_blocks(path)
    if language in ("sh", "console")
    for command in re.findall(r"(?:^|&& )(?:\.venv/bin/)?(digest [^\n#&]+)", code, re.M)
]


@pytest.mark.parametrize(
    ("path", "command"), DIGEST_LINES, ids=[f"{p.name}:{c[:40]}" for p, c in DIGEST_LINES]
)
def test_every_digest_command_in_the_docs_is_a_real_one(path: Path, command: str) -> None:
    """Each ``digest …`` line names a command and options that exist (``--help`` parses)."""
    words = command.split()
    assert words[1] in cli.commands, f"{path.name}: {command}"  # type: ignore[attr-defined]
    named = [cli.commands[words[1]]]  # type: ignore[attr-defined]
    if isinstance(named[0], click.Group):  # `digest suppress add …`, or `list|add|…`
        subs = words[2].split("|")
        assert all(sub in named[0].commands for sub in subs), f"{path.name}: {command}"
        named = [named[0].commands[sub] for sub in subs]
        words = words[1:]
    known = {
        flag
        for each in named
        for parameter in each.params
        for flag in getattr(parameter, "opts", [])
    }
    for word in words[2:]:
        flag = word.split("=")[0].strip("[]()")
        if flag.startswith("--"):
            assert flag in known | {"--help"}, f"{path.name}: {command}: {flag}"


@pytest.mark.slow
def test_one_command_builds_the_site_with_the_api_reference_in_it(tmp_path: Path) -> None:
    """``mkdocs build --strict`` alone, in a fresh copy (no ``docs/api`` written before)."""
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    if mkdocs is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[dev]')")
    shutil.copytree(DOCS, tmp_path / "docs", ignore=shutil.ignore_patterns("api"))
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    site = subprocess.run(
        [mkdocs, "build", "--strict"], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert site.returncode == 0, site.stdout + site.stderr
    assert not (tmp_path / "docs" / "api").exists()  # nothing written beside the sources
    assert (tmp_path / "site" / "api" / "digest.html").exists()
    assert (tmp_path / "site" / "api" / "digest" / "delivery" / "ledger.html").exists()
    assert (
        "Configuration reference"
        in (tmp_path / "site" / "configuration" / "index.html").read_text()
    )


def test_ci_builds_the_site_with_the_command_the_docs_name() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line for line in ci.splitlines() if not line.lstrip().startswith("#")]
    builds = [line for line in commands if "mkdocs build" in line or "pdoc" in line]
    assert len(builds) == 1 and "mkdocs build --strict" in builds[0], builds
    assert "mkdocs build --strict" in (DOCS / "testing.md").read_text()


# Numbers the docs state, read from the code that decides them.


def test_the_test_time_in_getting_started_is_the_one_the_readme_measured() -> None:
    measured = re.compile(r"(\d[\d,]*) s of pytest")
    readme = measured.findall((ROOT / "README.md").read_text())
    page = (DOCS / "getting-started.md").read_text()
    assert readme, "the README no longer says how long the tests take"
    assert measured.findall(page) == readme[:1]
    assert "about a minute" not in page


def default_ports() -> dict[str, int]:
    """The port each server of the command line listens on by default."""
    from digest.schedule.config import DeskConfig, WebConfig

    preview = cli.commands["preview"]  # type: ignore[attr-defined]
    option = next(p for p in preview.params if p.name == "port")
    return {
        "serve": WebConfig.model_fields["port"].default,
        "desk": DeskConfig.model_fields["port"].default,
        "preview": option.default,
    }


#: Where local mail servers listen (SMTP, submission, SMTPS, and the test servers' ports).
MAIL_PORTS = {25, 465, 587, 1025, 2525, 8025}


def test_the_three_servers_default_to_three_ports_no_mail_server_uses() -> None:
    ports = default_ports()
    assert len(set(ports.values())) == 3, ports
    assert not set(ports.values()) & MAIL_PORTS, ports


def test_the_docs_state_each_default_port_as_the_code_sets_it() -> None:
    ports = default_ports()
    for command, port in ports.items():
        assert f"digest {command} --config NEWSLETTER.toml" in CLI_PAGE
        synopsis = next(
            line for line in CLI_PAGE.splitlines() if line.startswith(f"digest {command} ")
        )
        assert f"[--port {port}]" in synopsis, synopsis
    assert f"`127.0.0.1:{ports['serve']}`" in CLI_PAGE
    assert f"`127.0.0.1:{ports['serve']}`" in (DOCS / "readers.md").read_text()
    assert f"http://127.0.0.1:{ports['desk']}/" in (DOCS / "desk.md").read_text()
    assert f"http://127.0.0.1:{ports['preview']}/" in CLI_PAGE
    stated = {
        int(n) for n in re.findall(r"127\.0\.0\.1:(\d+)", "\n".join(p.read_text() for p in PAGES))
    }
    assert stated <= set(ports.values()), stated - set(ports.values())


def test_the_preview_widths_in_the_docs_are_the_ones_it_draws() -> None:
    from digest.preview import DESKTOP_WIDTH, PHONE_WIDTH

    assert f"the email at {PHONE_WIDTH} and {DESKTOP_WIDTH} px" in " ".join(CLI_PAGE.split())


def test_the_starter_config_names_every_cadence() -> None:
    from typing import get_args

    from digest.cli.build import STARTER
    from digest.models import Cadence

    line = next(line for line in STARTER.splitlines() if line.startswith("every = "))
    named = set(re.findall(r'"(\w+)"', line))
    assert named == set(get_args(Cadence.model_fields["every"].annotation)), line


def test_every_extra_is_listed_with_what_needs_it() -> None:
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    page = (DOCS / "getting-started.md").read_text()
    rows = {
        cells[1].strip("` "): cells[3]
        for line in page.splitlines()
        if line.startswith("| `") and len(cells := line.split("|")) > 4
    }
    assert set(extras) <= set(rows), set(extras) - set(rows)
    for server in ("serve", "desk", "preview"):
        assert f"digest {server}" in rows["web"]
    assert "`web` extra" in (DOCS / "desk.md").read_text()
