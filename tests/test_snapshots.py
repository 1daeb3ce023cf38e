"""The examples rendered as snapshots; regenerate with ``pytest --update-snapshots``."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import EXAMPLE_EDITIONS, build_example

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.mark.parametrize("example", sorted(EXAMPLE_EDITIONS))
@pytest.mark.parametrize("part", ["html", "txt", "eml"])
def test_example_matches_snapshot(example: str, part: str, update_snapshots: bool) -> None:
    digest = build_example(example)
    parts = {"html": digest.html.encode(), "txt": digest.text.encode(), "eml": digest.as_bytes()}
    output = parts[part]
    snapshot = SNAPSHOTS / f"{example}.{part}"
    if update_snapshots:
        snapshot.write_bytes(output)
        pytest.skip(f"rewrote {snapshot.name}")
    assert snapshot.exists(), f"no snapshot yet: run pytest --update-snapshots ({snapshot})"
    assert output == snapshot.read_bytes(), (
        f"{example}.{part} differs from its snapshot; if the change is intended, "
        "run pytest --update-snapshots and review the diff"
    )
