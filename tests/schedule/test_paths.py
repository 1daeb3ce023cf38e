"""A config's files are the same files from any folder: its own, its parent, another, a symlink.

Each test runs the real ``digest`` command in subprocesses against a config in ``mkt/``, acting
(a build, a suppression by hand, a one-click unsubscribe through ``digest serve``) from one
folder and checking from every folder that the same history and suppression list are read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from digest.mail.message import list_id
from digest.schedule.build import feed_cache_path
from digest.schedule.config import BuildConfig, ledger_path, load_config
from digest.suppression import UnsubscribeTokens

from ..helpers import EXAMPLES, digest_command, digest_serve, run_command
from ..mailservers import free_port

SECRET = "a-secret-for-the-paths-test"
READERS = ["alice@example.org", "bob@example.org", "carol@example.org", "dan@example.org"]
EDITION = "edition-2026-11-30.eml"


@dataclass(frozen=True)
class Place:
    """Where a command runs from, and how it names the config's folder from there."""

    name: str
    cwd: Path
    folder: str

    def config(self) -> str:
        return f"{self.folder}newsletter.toml"

    def eml(self) -> str:
        return f"{self.folder}out/{EDITION}"


@dataclass(frozen=True)
class Tree:
    """A config in ``work/mkt/``, an unrelated folder beside it and a symlink to it."""

    root: Path
    mkt: Path

    def places(self) -> dict[str, Place]:
        return {
            "its folder": Place("its folder", self.mkt, ""),
            "its parent": Place("its parent", self.mkt.parent, "mkt/"),
            "elsewhere": Place("elsewhere", self.root / "elsewhere", f"{self.mkt}/"),
            "a symlink": Place("a symlink", self.root, "link/"),
            "inside a symlink": Place("inside a symlink", self.root / "link", ""),
        }


def make_tree(root: Path) -> Tree:
    mkt = root / "work" / "mkt"
    mkt.mkdir(parents=True)
    (root / "elsewhere").mkdir()
    (root / "link").symlink_to(mkt, target_is_directory=True)
    shutil.copy(EXAMPLES / "riverside" / "articles.json", mkt / "articles.json")
    shutil.copytree(EXAMPLES / "riverside" / "images", mkt / "images")
    (mkt / "templates").mkdir()
    (mkt / "readers.txt").write_text("\n".join(READERS) + "\n")
    text = (EXAMPLES / "riverside" / "newsletter.toml").read_text()
    # The history beside the config (the default), so the ledger and the suppression list
    # are derived from it; every other file relative to the config too.
    text = text.replace("history = false\n", "")
    # A real list's own unsubscribe page: a send refuses a placeholder one.
    placeholder = "https://riverside.example/newsletter/unsubscribe"
    assert placeholder in text
    text = text.replace(placeholder, "https://riverside-weekly.net/unsubscribe")
    head = 'out = "out"\narchive = "archive"\nrecipients = "readers.txt"\ntemplates = "templates"\n'
    port = free_port()  # nothing listens: a dry run never connects
    tail = f'\n[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
    (mkt / "newsletter.toml").write_text(head + text + tail)
    return Tree(root, mkt)


def files_of(root: Path) -> set[str]:
    """Every file under ``root``, symlinks not followed, as paths relative to it."""
    found = set()
    for folder, _, names in os.walk(root):
        for name in names:
            found.add((Path(folder) / name).relative_to(root).as_posix())
    return found


def digest(place: Place, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DIGEST_UNSUBSCRIBE_SECRET": SECRET}
    return run_command(*args, cwd=place.cwd, env=env)


def start(place: Place, *args: str) -> subprocess.Popen[str]:
    """``digest ARGS`` started from ``place``, its output piped."""
    return subprocess.Popen(
        [*digest_command(), *args],
        cwd=place.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "DIGEST_UNSUBSCRIBE_SECRET": SECRET, "PYTHONWARNINGS": "error"},
    )


def unsubscribe_through_serve(place: Place, address: str) -> None:
    """Start ``digest serve`` from ``place``, unsubscribe ``address`` with one click, stop it."""
    newsletter = load_config(place.cwd / place.config()).newsletter
    token = UnsubscribeTokens(SECRET, list_id(newsletter)).token(address)
    env = {"DIGEST_UNSUBSCRIBE_SECRET": SECRET, "PATH": "/usr/bin:/bin"}
    with digest_serve(place.config(), env, cwd=place.cwd) as serving:
        request = urllib.request.Request(
            f"{serving.base}/unsubscribe/{token}", data=b"List-Unsubscribe=One-Click"
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.read() == b"unsubscribed\n"


@pytest.mark.parametrize(
    "acting",
    [
        "its parent",  # the folder the README's commands run from
        *(
            pytest.param(place, marks=pytest.mark.slow)
            for place in ["its folder", "elsewhere", "a symlink", "inside a symlink"]
        ),
    ],
)
def test_every_command_uses_the_same_files_from_any_folder(tmp_path: Path, acting: str) -> None:
    tree = make_tree(tmp_path)
    places = tree.places()
    here = places[acting]
    before = files_of(tmp_path)

    built = digest(here, "build", "--config", here.config(), "--date", "2026-11-30", "--quiet")
    assert built.returncode == 0, built.stderr
    added = digest(
        here, "suppress", "add", "--config", here.config(), "--reason", "unsubscribed", READERS[0]
    )
    assert added.returncode == 0, added.stderr
    unsubscribe_through_serve(here, READERS[1])

    # Every place reads at once: the commands only read, and two cores finish them sooner.
    checks = {
        (place.name, command): start(place, *args)
        for place in places.values()
        for command, args in [
            ("list", ("suppress", "list", "--config", place.config())),
            ("history", ("history", "--config", place.config())),
            ("dry run", ("send", "--config", place.config(), place.eml(), "--dry-run")),
        ]
    }
    for (name, command), process in checks.items():
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, (name, command, err)
        if command == "list":
            suppressed = sorted(line.split("\t")[0] for line in out.splitlines())
            assert suppressed == sorted(READERS[:2]), (name, out)
        elif command == "history":
            assert out.startswith("#1    2026-11-30"), (name, out)
        else:
            assert f"Would send {EDITION} to 2 of 4" in out, (name, out)

    made = files_of(tmp_path) - before
    assert all(path.startswith("work/mkt/") for path in made), sorted(made)
    assert not any(path.startswith("work/mkt/mkt/") for path in made), sorted(made)
    state = {path for path in made if path.endswith(".sqlite3")}
    assert state == {
        "work/mkt/newsletter.history.sqlite3",
        "work/mkt/newsletter.suppressions.sqlite3",
    }
    assert f"work/mkt/out/{EDITION}" in made
    assert any(path.startswith("work/mkt/archive/") for path in made), sorted(made)


def test_absolute_paths_in_a_config_are_kept(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    state = tmp_path / "state"
    config = tree.mkt / "newsletter.toml"
    text = config.read_text()
    config.write_text(f'history = "{state}/weekly.history.sqlite3"\n' + text)
    place = tree.places()["its parent"]
    added = digest(place, "suppress", "add", "--config", place.config(), READERS[2])
    assert added.returncode == 0, added.stderr
    assert (state / "weekly.suppressions.sqlite3").is_file()
    # Read by a relative name, the relative paths come back absolute, the absolute ones kept.
    loaded = load_config(os.path.relpath(config))
    assert loaded.history == state / "weekly.history.sqlite3"
    assert loaded.suppression.path == state / "weekly.suppressions.sqlite3"
    assert loaded.out == tree.mkt / "out" and loaded.archive == tree.mkt / "archive"
    assert loaded.recipients == tree.mkt / "readers.txt"
    assert loaded.templates == tree.mkt / "templates" and loaded.assets == tree.mkt / "images"


def test_a_symlinked_config_file_keeps_its_files_beside_the_real_file(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    places = tree.places()
    elsewhere = places["elsewhere"]
    (elsewhere.cwd / "weekly.toml").symlink_to(tree.mkt / "newsletter.toml")
    before = files_of(tmp_path)
    added = digest(elsewhere, "suppress", "add", "--config", "weekly.toml", READERS[3])
    assert added.returncode == 0, added.stderr
    parent = places["its parent"]
    listed = digest(parent, "suppress", "list", "--config", parent.config())
    assert listed.stdout.startswith(f"{READERS[3]}\tby-hand\t"), listed.stdout
    assert files_of(tmp_path) - before == {"work/mkt/newsletter.suppressions.sqlite3"}
    loaded = load_config(elsewhere.cwd / "weekly.toml")
    assert loaded.history == tree.mkt / "newsletter.history.sqlite3"
    assert loaded.data == [tree.mkt / "articles.json"]


def path_fields(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Where a config model (and the models in it) holds a path: ``delivery.smtp.dkim.key_file``."""
    found: set[str] = set()
    for name, field in model.model_fields.items():
        todo: list[Any] = [field.annotation]
        while todo:
            kind = todo.pop()
            if kind is Path:
                found.add(prefix + name)
            elif isinstance(kind, type) and issubclass(kind, BaseModel):
                found |= path_fields(kind, f"{prefix}{name}.")
            else:
                todo.extend(get_args(kind))
    return found


def paths_in(value: object, where: str = "") -> dict[str, list[Path]]:
    """Every path a loaded config holds, by where it is (list items under their list's name)."""
    found: dict[str, list[Path]] = {}
    if isinstance(value, Path):
        found[where] = [value]
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            inside = f"{where}.{name}" if where else name
            for place, paths in paths_in(getattr(value, name), inside).items():
                found.setdefault(place, []).extend(paths)
    elif isinstance(value, list):
        for item in value:
            for place, paths in paths_in(item, where).items():
                found.setdefault(place, []).extend(paths)
    return found


def test_every_path_of_a_config_comes_back_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = make_tree(tmp_path)
    config = tree.mkt / "newsletter.toml"
    text = config.read_text().replace(
        'security = "none"\n',
        'security = "none"\n[delivery.smtp.dkim]\nselector = "s1"\ndomain = "riverside.example"\n'
        'key_file = "keys/dkim.pem"\n',
    )
    text = text.replace("[newsletter]\n", '[[sources]]\npath = "feeds/river.xml"\n\n[newsletter]\n')
    config.write_text(text + '\n[suppression]\npath = "state/no.sqlite3"\n')
    monkeypatch.chdir(tmp_path / "elsewhere")
    loaded = load_config(Path("..") / "link" / "newsletter.toml")

    found = paths_in(loaded)
    # Each place a config can name a file is named here, so a new one must be resolved too.
    assert set(found) == path_fields(BuildConfig), "set every path field in this test's config"
    assert all(path.is_absolute() for paths in found.values() for path in paths), found
    assert loaded.sources[0].path == tree.mkt / "feeds" / "river.xml"
    assert loaded.delivery and loaded.delivery.smtp and loaded.delivery.smtp.dkim
    assert loaded.delivery.smtp.dkim.key_file == tree.mkt / "keys" / "dkim.pem"
    assert loaded.suppression.path == tree.mkt / "state" / "no.sqlite3"
    assert ledger_path(loaded, Path("out.eml")) == tree.mkt / "newsletter.sends.sqlite3"
    assert feed_cache_path(loaded) == tree.mkt / "newsletter.history.feeds.sqlite3"
