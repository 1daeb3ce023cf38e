"""The desk's report page: one edition's figures and the trend over editions, charts and tables.

``report_page`` writes the page from ``digest.report``'s figures: what the edition did (sent,
delivered, bounces, complaints, unsubscribes, opens, clicks; a figure over the mailbox
providers' limits flagged), clicks per story as horizontal bars and the open and click rates
over the last editions as lines (``digest.web.charts``: SVG drawn here, no script), each chart
with a table of the same numbers beside it, for keyboards and screen readers. Its stylesheet
(``static/report.css``) draws it light or dark as the browser prefers.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from digest.text import one_line_text
from digest.web.charts import Bar, Series, bar_chart, line_chart

if TYPE_CHECKING:
    from digest.report import Report

__all__ = ["report_page", "unreported_page"]


def _e(value: object) -> str:
    """Text as HTML, escaped."""
    return escape(one_line_text(str(value)), quote=True)


def _percent(rate: float) -> str:
    return f"{100 * rate:.1f} %"


def _head(title: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light dark">\n'
        f"<title>{_e(title)} · digest desk</title>\n"
        '<link rel="stylesheet" href="/static/report.css"></head>\n<body>\n'
        '<header><p class="brand">digest desk</p><nav aria-label="Desk">'
        '<a href="/">The edition</a><a href="/report" aria-current="page">Report</a>'
        "</nav></header>\n<main>\n"
    )


_TAIL = "</main>\n</body></html>\n"


def unreported_page(why: str) -> str:
    """The page when there is nothing to report yet, saying why."""
    return (
        _head("Report")
        + "<h1>Report</h1>\n"
        + f'<p class="nothing">Nothing to report yet: {_e(why)}</p>\n'
        + _TAIL
    )


def _table(ident: str, caption: str, head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table of ``rows`` (already escaped cells; the first is the row's header)."""
    cells = "".join(f'<th scope="col">{_e(name)}</th>' for name in head)
    body = "".join(
        f'<tr><th scope="row">{row[0]}</th>' + "".join(f"<td>{c}</td>" for c in row[1:]) + "</tr>"
        for row in rows
    )
    if not rows:
        body = f'<tr><td colspan="{len(head)}">nothing yet</td></tr>'
    return (
        f'<div class="table" role="region" aria-labelledby="{ident}" tabindex="0">'
        f'<table><caption id="{ident}">{_e(caption)}</caption>'
        f"<thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _figures(report: Report) -> str:
    """What the edition did, as a description list."""
    rows = [
        ("Recipients", f"{report.recipients:,}"),
        ("Sent", f"{report.sent:,}"),
        ("Delivered", f"{report.delivered:,}"),
        ("Refused", f"{report.refused:,}"),
        ("Hard bounces", f"{report.hard_bounces:,}"),
        ("Soft bounces", f"{report.soft_bounces:,}"),
        ("Bounce rate", _percent(report.bounce_rate)),
        ("Complaints", f"{report.complaints:,}"),
        ("Complaint rate", _percent(report.complaint_rate)),
        ("Unsubscribed", f"{report.unsubscribes:,}"),
        ("Opened (readers)", f"{report.opens:,} ({_percent(report.open_rate)})"),
        ("Clicked (readers)", f"{report.clicks:,} ({_percent(report.click_rate)})"),
        ("Clicks in all", f"{report.total_clicks:,}"),
        ("Clicks by link scanners (apart)", f"{report.scanner_clicks:,}"),
    ]
    items = "".join(f"<div><dt>{_e(name)}</dt><dd>{_e(value)}</dd></div>" for name, value in rows)
    flags = ""
    if report.flags:
        listed = "".join(
            f"<li><strong>{_e(flag.figure)}</strong>: {_e(flag.says)}</li>" for flag in report.flags
        )
        flags = (
            '<div class="flags"><h3 id="h-flags">Over the mailbox providers\' limits</h3>'
            f'<ul aria-labelledby="h-flags">{listed}</ul></div>'
        )
    return f'<dl class="figures">{items}</dl>{flags}'


def _stories(report: Report) -> str:
    """Clicks per story: bars and their table."""
    stories = list(report.stories)
    bars = [Bar(story.title or story.story, story.clicks) for story in stories]
    chart = bar_chart("Clicks per story", bars, ident="chart-stories")
    rows = [
        [
            _e(story.title or story.story),
            _e(story.section or story.kind),
            _e("lead" if story.kind == "lead" else story.slot),
            _e(f"{story.clicks:,}"),
            _e(f"{story.readers:,}"),
            _e(_percent(story.click_through)),
        ]
        for story in stories
    ]
    table = _table(
        "table-stories",
        "Each story's clicks, in the edition's order",
        ["Story", "Section", "Slot", "Clicks", "Readers who clicked", "Click-through"],
        rows,
    )
    return f'<div class="pair"><figure>{chart}</figure>{table}</div>'


def _trend(trend: Sequence[Report]) -> str:
    """Open and click rates over editions, oldest first: lines and their table."""
    oldest_first = list(reversed(trend))
    points = [f"#{r.number}" if r.number is not None else str(r.date or "") for r in oldest_first]
    chart = line_chart(
        "Open and click rates over editions",
        points,
        [
            Series("Opened", [r.open_rate for r in oldest_first]),
            Series("Clicked", [r.click_rate for r in oldest_first]),
        ],
        ident="chart-trend",
    )
    rows = [
        [
            _e(point),
            _e(r.date.isoformat() if r.date is not None else ""),
            _e(f"{r.sent:,}"),
            _e(f"{r.delivered:,}"),
            _e(_percent(r.open_rate)),
            _e(_percent(r.click_rate)),
            _e(_percent(r.bounce_rate)),
            _e(_percent(r.complaint_rate)),
        ]
        for point, r in zip(points, oldest_first, strict=True)
    ]
    table = _table(
        "table-trend",
        "Editions, oldest first",
        ["Edition", "Date", "Sent", "Delivered", "Opened", "Clicked", "Bounced", "Complained"],
        rows,
    )
    return f'<div class="pair"><figure>{chart}</figure>{table}</div>'


def report_page(report: Report, trend: Sequence[Report]) -> str:
    """The report page of ``report`` (one edition) and ``trend`` (the last ones, newest first)."""
    number = f"Edition #{report.number}" if report.number is not None else "Edition"
    when = f" of {report.date.isoformat()}" if report.date is not None else ""
    title = f"{number}{when}"
    return (
        _head(f"Report: {title}")
        + f"<h1>Report: {_e(title)}</h1>\n"
        + f'<p class="subject">{_e(report.subject)}</p>\n'
        + '<section aria-labelledby="h-did"><h2 id="h-did">What it did</h2>'
        + _figures(report)
        + "</section>\n"
        + '<section aria-labelledby="h-stories"><h2 id="h-stories">Clicks per story</h2>'
        + _stories(report)
        + "</section>\n"
        + '<section aria-labelledby="h-trend"><h2 id="h-trend">Across editions</h2>'
        + _trend(trend)
        + "</section>\n"
        + _TAIL
    )
