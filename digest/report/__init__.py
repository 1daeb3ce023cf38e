"""What an edition did: delivery, bounces, complaints, opens and clicks per link and per story.

``report`` gives one edition's figures, ``trend`` the last editions', ``stories`` the
click-through per section and per slot; ``digest report`` prints them (``--json``, ``--csv``).
"""

from digest.report.figures import (
    BOUNCE_LIMIT,
    COMPLAINT_LIMIT,
    SCANNER,
    Flag,
    LinkClicks,
    Report,
    StoryClicks,
    StoryTrend,
    report,
    stories,
    trend,
)

__all__ = [
    "BOUNCE_LIMIT",
    "COMPLAINT_LIMIT",
    "SCANNER",
    "Flag",
    "LinkClicks",
    "Report",
    "StoryClicks",
    "StoryTrend",
    "report",
    "stories",
    "trend",
]
