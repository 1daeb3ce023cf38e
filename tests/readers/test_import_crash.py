"""An import killed with SIGKILL and run again ends as one import; two at once lose nothing."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from digest.readers import ReaderStore

SCRIPT = """
import sys
from digest.readers import ImportedReader, ReaderStore
path, start, count, source = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rows = (
    ImportedReader(line=n + 2, address=f"reader{n}@example.org",
                   status="unsubscribed" if n % 7 == 0 else "subscribed")
    for n in range(start, start + count)
)
ReaderStore(path).import_readers(rows, source)
print("done")
"""


def _run(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, *map(str, args)], stdout=subprocess.PIPE, text=True
    )


def _events(path: Path) -> int:
    with ReaderStore(path) as store:
        (count,) = store.db.execute("SELECT count(*) FROM events").fetchone()
        return int(count)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_killed_import_run_again_is_one_import(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "list.sqlite3"
    ReaderStore(path).close()
    killed = _run(path, 0, 3000, "members.csv (mailchimp)")
    time.sleep(random.Random(seed).uniform(0.0, 1.5))  # a random moment, not a timed assertion
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    again = _run(path, 0, 3000, "members.csv (mailchimp)")
    assert again.communicate()[0] == "done\n"
    once = _events(path)
    third = _run(path, 0, 3000, "members.csv (mailchimp)")
    assert third.communicate()[0] == "done\n"
    assert _events(path) == once == 3000
    with ReaderStore(path) as store:
        statuses = [r.status for r in store.readers()]
    assert len(statuses) == 3000
    assert statuses.count("unsubscribed") == len(range(0, 3000, 7))


def test_two_imports_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "list.sqlite3"
    ReaderStore(path).close()
    first, second = _run(path, 0, 2000, "a.csv"), _run(path, 1000, 2000, "b.csv")
    assert first.communicate()[0] == second.communicate()[0] == "done\n"
    with ReaderStore(path) as store:
        assert len(list(store.readers())) == 3000
