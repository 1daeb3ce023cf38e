"""The timing helper the benchmark scripts share."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_ms(action: Callable[[], object], repeat: int) -> float:
    """The median time of ``action`` in milliseconds, after one warm-up call."""
    action()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def riverside_digest() -> object:
    """The Riverside example's edition of 30 November 2026, built as ``digest build`` does."""
    from datetime import date
    from pathlib import Path

    from digest import build_digest, load_config
    from digest.feeds.data import load_data

    config = load_config(
        Path(__file__).resolve().parent.parent / "examples" / "riverside" / "newsletter.toml"
    )
    data = load_data(config.data, config.newsletter)
    return build_digest(data.articles, config.newsletter, date(2026, 11, 30), quotes=data.quotes)
