"""One commit per build: killed at any point (kill -9) or run twice at once, a build leaves
the files and the history either as they were or as the finished build makes them."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from digest import DigestError, InputError, load_config
from digest.schedule.build import recover, run_build
from digest.schedule.history import History

from .test_schedule import CONFIG, MONDAYS, write_feed

RUNS = int(os.environ.get("DIGEST_FAULT_RUNS", "100" if os.environ.get("CI") else "20"))


def make_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "newsletter.toml").write_text(CONFIG)
    quotes = [{"text": f"Quote number {n}", "author": "Someone"} for n in range(3)]
    (folder / "quotes.json").write_text(json.dumps({"quotes": quotes}))
    write_feed(folder)
    return folder


def state(folder: Path) -> tuple[dict[str, bytes], list[tuple[int, str]]]:
    files = {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and "history" not in p.name
        and p.suffix not in (".toml", ".json")
        and p.name != "feed.xml"
    }
    path = folder / "newsletter.history.sqlite3"
    records: list[tuple[int, str]] = []
    if path.exists():
        with History(path) as history:
            records = [(r.number, r.date.isoformat()) for r in history.editions()]
    return files, records


def build(folder: Path, on: date, number: int | None = None) -> Any:
    config = load_config(folder / "newsletter.toml")
    return run_build(config, config.out or folder / "out", on=on, number=number)


def _killed_build(folder: str, on: str, step: int) -> None:
    """In a child process: build, sending ourselves SIGKILL at the ``step``-th file operation."""
    import digest.schedule.commit as output

    count = [0]

    def fatal(name: str, real: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            count[0] += 1
            if count[0] == step:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)

        return wrapped

    for name in ("replace", "link", "fsync", "unlink"):
        setattr(output.os, name, fatal(name, getattr(os, name)))
    build(Path(folder), date.fromisoformat(on))


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """The state before the second build, and after it."""
    folder = make_folder(tmp_path_factory.mktemp("reference"))
    build(folder, MONDAYS[0])
    before = state(folder)
    build(folder, MONDAYS[1])
    return before, state(folder)


def copies_after_one_build(tmp_path: Path, runs: int) -> Iterator[tuple[int, Path]]:
    """``runs`` fresh copies of a folder with one edition built, each removed after use."""
    base = make_folder(tmp_path / "base")
    build(base, MONDAYS[0])
    for run in range(runs):
        folder = tmp_path / f"run{run}"
        shutil.copytree(base, folder)
        yield run, folder
        shutil.rmtree(folder)


@pytest.mark.slow
def test_a_build_killed_at_any_file_step_is_all_or_nothing(
    tmp_path: Path, finished: tuple[Any, Any]
) -> None:
    before, after = finished
    rng = random.Random(20261128)
    seen = {"old": 0, "new": 0}
    context = multiprocessing.get_context("fork")
    for run, folder in copies_after_one_build(tmp_path, RUNS):
        step = rng.randint(1, 40)
        child = context.Process(
            target=_killed_build, args=(str(folder), MONDAYS[1].isoformat(), step)
        )
        child.start()
        child.join(60)
        config = load_config(folder / "newsletter.toml")
        recover(config, folder / "out")
        now = state(folder)
        assert now in (before, after), f"run {run}, killed at file step {step}"
        seen["old" if now == before else "new"] += 1
        leftovers = [p.name for p in folder.rglob(".*digest-*")]
        assert not leftovers, leftovers
    assert seen["old"] and seen["new"], seen


@pytest.mark.slow
def test_a_build_killed_at_a_random_moment_is_all_or_nothing(
    tmp_path: Path, finished: tuple[Any, Any]
) -> None:
    before, after = finished
    rng = random.Random(7)
    for run, folder in copies_after_one_build(tmp_path, max(3, RUNS // 10)):
        process = subprocess.Popen(
            [sys.executable, "-m", "digest", "build", "--config", "newsletter.toml", "--date",
             MONDAYS[1].isoformat(), "--quiet"],
            cwd=folder,
        )  # fmt: skip
        try:
            process.wait(rng.uniform(0.2, 1.5))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
        recover(load_config(folder / "newsletter.toml"), folder / "out")
        assert state(folder) in (before, after), f"run {run}"


@pytest.mark.slow
def test_two_builds_at_once_take_turns_and_get_their_own_numbers(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "n")
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "digest",
                "build",
                "--config",
                "newsletter.toml",
                "--date",
                day.isoformat(),
                "--quiet",
            ],
            cwd=folder,
            stderr=subprocess.PIPE,
            text=True,
        )
        for day in MONDAYS[:2]
    ]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    _, records = state(folder)
    assert sorted(records) == [(1, MONDAYS[0].isoformat()), (2, MONDAYS[1].isoformat())] or sorted(
        records
    ) == [(1, MONDAYS[1].isoformat()), (2, MONDAYS[0].isoformat())]
    assert len({number for number, _ in records}) == 2


def test_a_number_that_belongs_to_another_edition_is_refused(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "n")
    build(folder, MONDAYS[1])
    with pytest.raises(
        InputError, match="--number 1: that is the number of the edition of 2026-11-23"
    ):
        build(folder, MONDAYS[0], number=1)
    with pytest.raises(InputError, match="is #1; edition numbers are never reassigned"):
        build(folder, MONDAYS[1], number=5)
    assert state(folder)[1] == [(1, MONDAYS[1].isoformat())]
    assert build(folder, MONDAYS[0], number=7).digest.edition.number == 7


def test_an_unwritable_archive_leaves_out_and_history_as_they_were(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "n")
    build(folder, MONDAYS[0])
    shutil.rmtree(folder / "archive")
    (folder / "archive").write_text("a file where the archive folder should be")
    before = state(folder)
    with pytest.raises(DigestError, match="cannot write the output"):
        build(folder, MONDAYS[1])
    assert state(folder) == before


def test_a_failing_archive_template_leaves_everything_as_it_was(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "n")
    build(folder, MONDAYS[0])
    templates = folder / "templates"
    templates.mkdir()
    (templates / "archive.html.j2").write_text("{{ 1 / 0 }}")
    config = (folder / "newsletter.toml").read_text()
    (folder / "newsletter.toml").write_text('templates = "templates"\n' + config)
    before = state(folder)
    with pytest.raises(DigestError, match=r"archive\.html\.j2"):
        build(folder, MONDAYS[1])
    assert state(folder) == before


def test_stale_temporaries_are_cleaned_by_the_next_build(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "n")
    build(folder, MONDAYS[0])
    (folder / "out" / ".edition-x.html.digest-0123.tmp").write_text("half")
    (folder / "archive" / ".index.html.digest-0123.bak").write_text("old")
    build(folder, MONDAYS[1])
    assert not list(folder.rglob(".*digest-*"))
