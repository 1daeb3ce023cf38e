"""Time the pipeline stage by stage and compare it with a naive build measured in the same run.

Run: python benchmarks/run.py [--repeat N]
Prints medians in milliseconds and ratios; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from timing import median_ms

from digest import Article, Newsletter, Quote, Renderer, build_digest, email_bytes, load_config
from digest.feeds.data import load_data
from digest.render import compile_mjml
from digest.render.inline import inline_css
from digest.render.renderer import _environments
from digest.select import select_edition

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "tangerangnews" / "newsletter.toml"
SEED_DATE = date(2025, 9, 16)


def own_work(
    whole: Callable[[], object], engines: Callable[[], object], repeat: int
) -> tuple[float, float]:
    """The time a build spends outside MJML and premailer, and its share of theirs.

    Each round times the engines and the whole build back to back, so that both see the same
    machine load; the medians of the differences and of the ratios are returned.
    """
    differences, ratios = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        engines()
        middle = time.perf_counter()
        whole()
        end = time.perf_counter()
        engine_time, whole_time = middle - start, end - middle
        differences.append((whole_time - engine_time) * 1000)
        ratios.append((whole_time - engine_time) / engine_time)
    return statistics.median(differences), statistics.median(ratios)


def thirty_teasers(seed: list[Article]) -> list[Article]:
    base = seed[1]
    sections = ["BANTEN", "OPINI", "PROPERTI"]
    return [seed[0]] + [
        base.model_copy(
            update={
                "title": f"{base.title} ({n})",
                "url": f"{base.url}-{n}",
                "section": sections[n % 3],
                "published_at": datetime(2025, 9, 15, tzinfo=UTC) - timedelta(hours=n),
            }
        )
        for n in range(30)
    ]


def measure(
    name: str, articles: list[Article], quotes: list[Quote], newsletter: Newsletter, repeat: int
) -> list[tuple[str, float, float | None]]:
    """Median times of each stage, a whole build, and the naive build, for one edition."""
    renderer = Renderer()
    edition = select_edition(articles, newsletter, SEED_DATE, quotes=quotes)
    context = renderer.context(edition, newsletter)
    context.update(subject="s", preheader="p", preheader_filler="")
    mjml_source = renderer.render_template("edition.mjml.j2", context, markup=True)
    html = compile_mjml(mjml_source)
    digest = build_digest(articles, newsletter, SEED_DATE, quotes=quotes, renderer=renderer)

    def naive() -> bytes:
        # A fresh renderer each time, its templates compiled again (renderers share
        # compiled environments, so the cache is emptied first).
        _environments.cache_clear()
        fresh = Renderer()
        return email_bytes(
            build_digest(articles, newsletter, SEED_DATE, quotes=quotes, renderer=fresh)
        )

    def whole() -> bytes:
        return email_bytes(
            build_digest(articles, newsletter, SEED_DATE, quotes=quotes, renderer=renderer)
        )

    def jinja() -> str:
        fresh_context = renderer.context(edition, newsletter) | context
        return renderer.render_template("edition.mjml.j2", fresh_context, markup=True)

    stages: dict[str, Callable[[], object]] = {
        "select": lambda: select_edition(articles, newsletter, SEED_DATE, quotes=quotes),
        "jinja2 (context + MJML template)": jinja,
        "MJML compile": lambda: compile_mjml(mjml_source),
        "inline (premailer)": lambda: inline_css(html),
        "message bytes": lambda: email_bytes(digest),
    }
    baseline = median_ms(naive, repeat)
    rows: list[tuple[str, float, float | None]] = [
        (f"{name}: naive build (fresh renderer)", baseline, None)
    ]
    rows += [
        (f"{name}: {stage}", median_ms(action, repeat), None) for stage, action in stages.items()
    ]
    total = median_ms(whole, repeat)
    rows.append((f"{name}: whole build, reused renderer", total, total / baseline))
    own, share = own_work(whole, lambda: inline_css(compile_mjml(mjml_source)), repeat)
    rows.append((f"{name}: digest's own work over MJML + premailer", own, share))
    rows.append((f"{name}: HTML size (KB)", len(digest.html.encode()) / 1024, None))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=30)
    repeat = parser.parse_args().repeat

    config = load_config(SEED)
    data = load_data(config.data, config.newsletter)
    layout = config.newsletter.layout.model_copy(update={"teasers_per_section": 10})
    newsletter = config.newsletter.model_copy(update={"layout": layout})
    rows = measure("seed", data.articles, data.quotes, newsletter, repeat)
    rows += measure("30 teasers", thirty_teasers(data.articles), data.quotes, newsletter, repeat)

    width = max(len(r[0]) for r in rows)
    print(
        f"{'measure':<{width}}  {'median':>9}  ratio (to the naive build; own work: to the "
        "MJML compile + premailer of the same edition)"
    )
    for label, value, ratio in rows:
        shown = f"{value:8.1f}" if "KB" in label else f"{value:8.1f} ms"
        print(f"{label:<{width}}  {shown:>9}  {'' if ratio is None else f'{ratio:.2f}x'}")
    print(f"(median of {repeat} runs; Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
