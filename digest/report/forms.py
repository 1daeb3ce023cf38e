"""A report's forms: JSON data, CSV a spreadsheet reads as data, and lines for a terminal."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from digest.files import spreadsheet_csv
from digest.report.figures import LinkClicks, Report, StoryTrend

__all__ = [
    "FIGURES",
    "as_data",
    "as_json",
    "links_csv",
    "report_lines",
    "reports_csv",
    "stories_csv",
    "stories_lines",
    "trend_lines",
]

#: The columns of ``reports_csv``: one edition a row.
FIGURES = (
    "edition", "number", "date", "subject", "recipients", "sent", "refused", "unknown",
    "pending", "delivered", "hard_bounces", "soft_bounces", "complaints", "unsubscribes",
    "opens", "total_opens", "clicks", "total_clicks", "scanner_clicks", "bounce_rate",
    "complaint_rate", "open_rate", "click_rate", "flags",
)  # fmt: skip

_LINK_COLUMNS = ("index", "url", "kind", "story", "section", "slot", "clicks", "readers")


def as_data(value: Report | StoryTrend | Sequence[Report] | Sequence[StoryTrend]) -> Any:
    """A report (or several) as JSON data: dates as ISO text, rates as fractions."""
    if isinstance(value, Report | StoryTrend):
        data = dataclasses.asdict(value)
        if isinstance(value, Report):
            data["date"] = value.date.isoformat() if value.date else None
        return data
    return [as_data(one) for one in value]


def as_json(value: Report | StoryTrend | Sequence[Report] | Sequence[StoryTrend]) -> str:
    """``as_data`` as indented JSON text."""
    return json.dumps(as_data(value), ensure_ascii=False, indent=2) + "\n"


def _cell(report: Report, name: str) -> object:
    if name == "flags":
        return " ".join(flag.figure for flag in report.flags)
    value = getattr(report, name)
    if name == "date":
        return value.isoformat() if value else ""
    if isinstance(value, float):
        return f"{value:.6f}"
    return "" if value is None else value


def reports_csv(reports: Sequence[Report]) -> str:
    """One row a report (``FIGURES``), rates as fractions with six decimals."""
    return spreadsheet_csv([FIGURES, *([_cell(r, n) for n in FIGURES] for r in reports)])


def _link_row(link: LinkClicks) -> list[object]:
    index = "" if link.index is None else link.index
    kind = link.kind or ""
    return [index, link.url, kind, link.story, link.section, link.slot, link.clicks, link.readers]


def links_csv(report: Report) -> str:
    """The clicks per link of one edition: a URL a row (``index`` empty for no link of it)."""
    return spreadsheet_csv([_LINK_COLUMNS, *map(_link_row, report.links)])


def stories_csv(trends: Sequence[StoryTrend]) -> str:
    """Click-through per section and per slot: a group a row."""
    header = ("by", "name", "stories", "delivered", "readers", "click_through")
    rows = [
        (t.by, t.name, t.stories, t.delivered, t.readers, f"{t.click_through:.6f}") for t in trends
    ]
    return spreadsheet_csv([header, *rows])


def _percent(rate: float) -> str:
    return f"{rate * 100:.1f} %"


def report_lines(report: Report) -> list[str]:
    """One edition's figures for a terminal: counts, rates, flags, clicks per story and link."""
    lines = [
        f"{report.edition}: {report.subject}",
        f"  recipients      {report.recipients:>8,}",
        f"  sent            {report.sent:>8,}",
        f"  refused         {report.refused:>8,}",
        f"  unknown         {report.unknown:>8,}",
        f"  pending         {report.pending:>8,}",
        f"  delivered       {report.delivered:>8,}",
        f"  bounced         {report.hard_bounces + report.soft_bounces:>8,}"
        f"  {_percent(report.bounce_rate)} of sent"
        f" ({report.hard_bounces:,} hard, {report.soft_bounces:,} soft)",
        f"  complaints      {report.complaints:>8,}  {_percent(report.complaint_rate)}"
        " of delivered",
        f"  unsubscribes    {report.unsubscribes:>8,}",
        f"  opened          {report.opens:>8,}  {_percent(report.open_rate)} of delivered"
        f" ({report.total_opens:,} opens)",
        f"  clicked         {report.clicks:>8,}  {_percent(report.click_rate)} of delivered"
        f" ({report.total_clicks:,} clicks; {report.scanner_clicks:,} by link scanners apart)",
    ]
    lines += [f"  ! {flag.says}" for flag in report.flags]
    if report.stories:
        lines.append("Clicks per story (readers, clicks, click-through):")
        for story in report.stories:
            place = "lead" if story.kind == "lead" else f"{story.section} #{story.slot}"
            lines.append(
                f"  {place:<18} {story.readers:>6,} {story.clicks:>7,}"
                f"  {_percent(story.click_through):>7}  {story.title}"
            )
    if report.links:
        lines.append("Clicks per link (readers, clicks):")
        for link in report.links:
            where = "?" if link.index is None else str(link.index)
            lines.append(f"  {where:>3} {link.readers:>6,} {link.clicks:>7,}  {link.url}")
    if report.unmatched_clicks:
        lines.append(
            f"  ({report.unmatched_clicks:,} clicks on URLs that are no link of this edition)"
        )
    return lines


def trend_lines(reports: Sequence[Report]) -> list[str]:
    """The last editions, newest first, a line each."""
    lines = ["edition          sent  delivered  bounced  complaints  unsubscribed  opened  clicked"]
    for r in reports:
        name = f"#{r.number} {r.date.isoformat()}" if r.date else r.edition
        flags = "  ! " + ", ".join(f.figure for f in r.flags) if r.flags else ""
        lines.append(
            f"{name:<15} {r.sent:>5,}  {r.delivered:>9,}  {_percent(r.bounce_rate):>7}"
            f"  {_percent(r.complaint_rate):>10}  {r.unsubscribes:>12,}"
            f"  {_percent(r.open_rate):>6}  {_percent(r.click_rate):>7}{flags}"
        )
    return lines


def stories_lines(trends: Sequence[StoryTrend], editions: int) -> list[str]:
    """Click-through per section and per slot across ``editions`` editions."""
    lines = [f"Click-through across the last {editions} editions (readers who clicked):"]
    for by in ("section", "slot"):
        lines.append(f"  per {by}:")
        for t in (t for t in trends if t.by == by):
            name = "lead (0)" if by == "slot" and t.name == "0" else t.name
            lines.append(
                f"    {name:<20} {_percent(t.click_through):>7}"
                f"  ({t.readers:,} of {t.delivered:,}; {t.stories} "
                f"{'story' if t.stories == 1 else 'stories'})"
            )
    return lines
