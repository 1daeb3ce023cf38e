"""The preferences page of ``digest serve``: a reader chooses sections, pauses, moves, leaves.

``GET /preferences/TOKEN`` (the reader's unsubscribe token, so every copy's unsubscribe page
links to it) shows the reader's choices and changes nothing; ``POST`` to it saves them, each
change an event of the reader store (``changed``, ``paused``, ``resumed``), by
``preferences page``. Leaving is the unsubscribe page's own button, posted to
``/unsubscribe/TOKEN``. A reader the store does not hold (a recipients file's) can only leave.
The page is in the newsletter's language (``Choices.catalog``), its errors too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

import anyio
from babel.dates import format_date
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from digest.cadence import Cadence, pause_until
from digest.fields import check_timezone
from digest.labels import N_
from digest.mail.tracking import OPT_OUT_FIELD, opted_out
from digest.readers.store import ReaderRecord, ReaderStore
from digest.settings import Newsletter
from digest.store.url import StoreURL
from digest.suppression.tokens import UnsubscribeTokens
from digest.web.body import form_fields, read_body
from digest.web.pages import STYLE, html_start, page, page_catalog, say

__all__ = [
    "PAUSES",
    "Choices",
    "PreferenceStore",
    "check_choice",
    "pause_until",
    "place_zones",
    "preferences_endpoint",
    "preferences_page",
]

# {name} is the newsletter's name.
_TITLE = N_("Your emails from {name}")
# {address} is the reader's email address, {name} the newsletter's name.
_ELSEWHERE = N_(
    "{address} gets {name} from a list kept elsewhere: "
    "there are no choices to make here, only leaving."
)
# {address} is the reader's email address, {name} the newsletter's name.
_NO_MORE = N_("{address} gets no more emails from {name}.")
# {address} is the reader's email address: whose choices the page shows.
_FOR = N_("For {address}.")
_UNSUBSCRIBE = N_("Unsubscribe")
# The heading of the sections a reader chooses.
_SECTIONS = N_("Sections")
_SECTIONS_TEXT = N_("The lead story always comes; choose the sections below it.")
# The heading of the choice to pause the emails.
_PAUSE = N_("Pause")
_RESUME = N_("Resume now")
_KEEP = N_("Keep them coming")
# One message per pause (PAUSES), so that each language says its own plural.
_PAUSE_FOR = {
    1: N_("Pause for the next edition"),
    2: N_("Pause for the next 2 editions"),
    4: N_("Pause for the next 4 editions"),
    8: N_("Pause for the next 8 editions"),
}
# {date} is the day the pause ends, such as "05 January 2027".
_PAUSED_UNTIL = N_("Paused until {date}: choose again to change it.")
_TIME_ZONE = N_("Time zone")
_TIME_ZONE_LABEL = N_("Emails come at the send time where you live")
# The heading of the choice to have one's clicks counted (only where the newsletter counts them).
_PRIVACY = N_("Privacy")
_COUNTED = N_("Count which stories I open from these emails")
# The button that saves the reader's choices.
_SAVE = N_("Save")
_SAVED = N_("Your choices are saved.")
_BAD_LINK = N_("This link does not work")
_BAD_LINK_TEXT = N_(
    "The preferences link is not valid. Use the link in your most recent email, or reply to it."
)
# {section} is the section the form sent, quoted.
_NO_SECTION = N_("section {section} is not one of this newsletter's")
# {pause} is the pause the form sent, quoted; {pauses} the ones offered (1, 2, 4, 8).
_NO_PAUSE = N_("pause {pause} is not one of {pauses}")
# {zone} is the time zone the form sent, quoted.
_NO_ZONE = N_("time zone {zone} is not an IANA time zone")


#: How many editions a reader may pause for.
PAUSES = (1, 2, 4, 8)
#: The page's source on every event it records.
SOURCE = "preferences page"

_FORM_STYLE = """
fieldset { border: 1px solid #c4c9d2; border-radius: 8px; margin: 0 0 1.25rem;
  padding: 0.75rem 1rem; }
legend { font-weight: 600; padding: 0 0.25rem; }
label { display: flex; align-items: center; gap: 0.75rem; min-height: 48px; }
input[type=checkbox], input[type=radio] { flex: none; width: 24px; height: 24px; margin: 0; }
select { font: inherit; min-height: 48px; max-width: 100%; }
input:focus-visible, select:focus-visible { outline: 3px solid #f9ab00; outline-offset: 2px; }
.status { font-weight: 600; }
.leave { margin-top: 2rem; }
.leave button { background: #5f6368; }
@media (prefers-color-scheme: dark) { .leave button { background: #c4c9d2; color: #111418; } }
"""


def place_zones() -> frozenset[str]:
    """The IANA time zones of places (``Region/City``): not ``Etc/…``, aliases or ``Factory``."""
    return frozenset(
        zone for zone in available_timezones() if "/" in zone and not zone.startswith("Etc/")
    )


@dataclass(frozen=True)
class Choices:
    """What the page offers: the newsletter's name, its sections, its cadence and zone."""

    name: str
    #: Each section's name (as readers' choices keep it) and its heading.
    sections: tuple[tuple[str, str], ...]
    cadence: Cadence
    zone: ZoneInfo
    #: The catalog the page's words come from (the newsletter's language; English without one).
    catalog: str = "en"
    #: The time zones offered, read once (the tz database is scanned on disk for them).
    zones: frozenset[str] = field(default_factory=place_zones, compare=False, repr=False)
    #: Whether the newsletter counts clicks or opens (``[tracking]``): a reader may say no.
    tracking: bool = False

    @classmethod
    def of(cls, newsletter: Newsletter, tracking: bool = False) -> Choices:
        """The choices of ``newsletter`` (weekly when it names no cadence)."""
        return cls(
            name=newsletter.name,
            sections=tuple((s.name, s.label or s.name) for s in newsletter.layout.sections),
            cadence=newsletter.schedule.cadence or Cadence(),
            zone=newsletter.zone,
            catalog=page_catalog(newsletter.locale),
            tracking=tracking,
        )


def preferences_page(
    choices: Choices,
    record: ReaderRecord | None,
    address: str,
    token_path: str,
    *,
    status: str = "",
    problem: str = "",
) -> str:
    """The preferences page of one reader (``record`` None: the store does not hold them)."""
    catalog = choices.catalog
    name = choices.name
    title = escape(say(_TITLE, catalog, name=name))
    parts = [f"<h1>{title}</h1>"]
    if status:
        parts.append(f'<p class="status" role="status">{escape(status)}</p>')
    if problem:
        parts.append(f'<p class="status" role="alert">{escape(problem)}</p>')
    if record is None:
        parts.append(f"<p>{escape(say(_ELSEWHERE, catalog, address=address, name=name))}</p>")
    elif record.status in ("unsubscribed", "bounced", "complained"):
        parts.append(f"<p>{escape(say(_NO_MORE, catalog, address=address, name=name))}</p>")
    else:
        parts.append(f"<p>{escape(say(_FOR, catalog, address=address))}</p>")
        parts.append(_form(choices, record, token_path))
    if record is None or record.status not in ("unsubscribed", "bounced", "complained"):
        parts.append(
            f'<form class="leave" method="post" action="/unsubscribe/{escape(token_path)}">'
            '<input type="hidden" name="confirm" value="1">'
            f'<button type="submit">{escape(say(_UNSUBSCRIBE, catalog))}</button></form>'
        )
    return (
        f'<!doctype html>\n{html_start(catalog)}<head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{title}</title>"
        f"<style>{STYLE}{_FORM_STYLE}</style></head>"
        f"<body><main>{''.join(parts)}</main></body></html>\n"
    )


def _form(choices: Choices, record: ReaderRecord, token_path: str) -> str:
    """The form of the reader's sections, pause and time zone."""
    catalog = choices.catalog
    rows = []
    if choices.sections:
        chosen = None if record.sections is None else {s.lower() for s in record.sections}
        boxes = "".join(
            f'<label><input type="checkbox" name="section" value="{escape(name)}"'
            f"{' checked' if chosen is None or name.lower() in chosen else ''}>"
            f"{escape(heading)}</label>"
            for name, heading in choices.sections
        )
        rows.append(
            f"<fieldset><legend>{escape(say(_SECTIONS, catalog))}</legend>"
            f"<p>{escape(say(_SECTIONS_TEXT, catalog))}</p>"
            f"{boxes}</fieldset>"
        )
    paused = record.status == "paused" and record.paused_until is not None
    now_label = escape(say(_RESUME if paused else _KEEP, catalog))
    # A paused reader's form sends no pause unless they choose one: saving keeps the pause.
    checked = "" if paused else " checked"
    radios = [f'<label><input type="radio" name="pause" value="0"{checked}>{now_label}</label>']
    for count in PAUSES:
        editions = escape(say(_PAUSE_FOR[count], catalog))
        radios.append(f'<label><input type="radio" name="pause" value="{count}">{editions}</label>')
    until = ""
    if paused and record.paused_until is not None:
        day = _day(record.paused_until.astimezone(choices.zone).date(), catalog)
        until = f"<p>{escape(say(_PAUSED_UNTIL, catalog, date=day))}</p>"
    legend = escape(say(_PAUSE, catalog))
    rows.append(f"<fieldset><legend>{legend}</legend>{until}{''.join(radios)}</fieldset>")
    current = record.timezone or choices.zone.key
    options = "".join(
        f"<option{' selected' if zone == current else ''}>{escape(zone)}</option>"
        for zone in _zones(choices.zones, current)
    )
    rows.append(
        f"<fieldset><legend>{escape(say(_TIME_ZONE, catalog))}</legend>"
        f'<label for="timezone">{escape(say(_TIME_ZONE_LABEL, catalog))}</label>'
        f'<select id="timezone" name="timezone">{options}</select></fieldset>'
    )
    if choices.tracking:
        counted = "" if opted_out(record.fields) else " checked"
        # The hidden field says the box was shown: an unticked box sends nothing.
        rows.append(
            f"<fieldset><legend>{escape(say(_PRIVACY, catalog))}</legend>"
            '<input type="hidden" name="counting" value="shown">'
            f'<label><input type="checkbox" name="counted" value="1"{counted}>'
            f"{escape(say(_COUNTED, catalog))}</label></fieldset>"
        )
    return (
        f'<form method="post" action="/preferences/{escape(token_path)}">{"".join(rows)}'
        f'<button type="submit">{escape(say(_SAVE, catalog))}</button></form>'
    )


def _day(day: date, catalog: str) -> str:
    """``day`` as the page's language writes it (English: "05 January 2027")."""
    if catalog == "en":
        return f"{day:%d %B %Y}"
    return format_date(day, "long", locale=catalog)


class PreferenceStore:
    """The reader store as the page uses it: one connection, one call at a time, in a thread."""

    def __init__(self, path: Path | StoreURL, soft_bounce_limit: int = 3) -> None:
        """Open the store at ``path`` (a file or a store URL) when first asked."""
        self.path = path
        self.soft_bounce_limit = soft_bounce_limit
        self.store: ReaderStore | None = None
        self.lock = anyio.Lock()

    def _open(self) -> ReaderStore:
        if self.store is None:
            self.store = ReaderStore(self.path, soft_bounce_limit=self.soft_bounce_limit)
        return self.store

    async def get(self, address: str) -> ReaderRecord | None:
        """The reader's record, or None."""
        async with self.lock:
            return await anyio.to_thread.run_sync(lambda: self._open().get(address))

    async def save(
        self,
        address: str,
        choices: Choices,
        sections: Sequence[str] | None,
        pause: int | None,
        timezone: str,
        counted: bool | None = None,
    ) -> ReaderRecord | None:
        """Save a reader's choices (only what changed, each an event); their record after.

        ``pause`` is editions to pause for, 0 to resume, None to leave a pause as it is;
        ``counted`` whether their clicks may be counted (None: as it is).
        """

        def save() -> ReaderRecord | None:
            store = self._open()
            record = store.get(address)
            if record is None or record.status not in ("subscribed", "paused", "pending"):
                return record
            chosen = record.sections if sections is None else tuple(sections)
            if chosen is not None and set(chosen) == {name for name, _ in choices.sections}:
                chosen = None  # every section: all of them, new ones too
            moved = timezone != (record.timezone or choices.zone.key)
            said_no = opted_out(record.fields)
            recount = counted is not None and counted == said_no
            if chosen != record.sections or moved or recount:
                store.change(
                    address,
                    sections=chosen,
                    all_sections=chosen is None,
                    timezone=timezone if moved else None,
                    fields={OPT_OUT_FIELD: None if counted else "off"} if recount else None,
                    source=SOURCE,
                )
            if pause:  # None: as it is
                today = datetime.now(choices.zone).date()
                store.pause(
                    address, pause_until(choices.cadence, pause, today, choices.zone), SOURCE
                )
            elif pause == 0 and record.paused_until is not None and record.status == "paused":
                store.resume(address, SOURCE)
            return store.get(address)

        async with self.lock:
            return await anyio.to_thread.run_sync(save)

    def close(self) -> None:
        """Close the store."""
        if self.store is not None:
            self.store.close()
            self.store = None


def _zones(places: frozenset[str], current: str) -> list[str]:
    """The zones offered: the places and UTC, and the reader's own."""
    return sorted(places | {"UTC", current})


def check_choice(
    choices: Choices, fields: Sequence[tuple[str, str]]
) -> tuple[list[str] | None, int | None, str, bool | None] | str:
    """The form's sections, pause, time zone and counting, or what is wrong (a sentence).

    Counting is None where the form did not show its box (the newsletter counts nothing).
    """
    catalog = choices.catalog
    known = {name for name, _ in choices.sections}
    sections = [value for key, value in fields if key == "section"]
    unknown = [s for s in sections if s not in known]
    if unknown:
        return say(_NO_SECTION, catalog, section=repr(unknown[0][:60]))
    pauses = [value for key, value in fields if key == "pause"] or [""]
    if pauses[-1] not in {"", "0", *map(str, PAUSES)}:
        offered = ", ".join(map(str, PAUSES))
        return say(_NO_PAUSE, catalog, pause=repr(pauses[-1][:20]), pauses=offered)
    zones = [value for key, value in fields if key == "timezone"]
    zone = zones[-1] if zones else choices.zone.key
    try:
        check_timezone(zone)
    except ValueError:
        return say(_NO_ZONE, catalog, zone=repr(zone[:60]))
    pause = int(pauses[-1]) if pauses[-1] else None  # none chosen: a pause stays as it is
    shown = choices.tracking and ("counting", "shown") in fields
    counted = any(key == "counted" for key, _ in fields) if shown else None
    return (sections if choices.sections else None), pause, zone, counted


def preferences_endpoint(
    tokens: UnsubscribeTokens | None, choices: Choices, store: PreferenceStore
) -> Callable[[Request], Awaitable[Response]]:
    """The ``/preferences/TOKEN`` endpoint: GET shows the reader's choices, POST saves them."""

    async def endpoint(request: Request) -> Response:
        token = str(request.path_params.get("token", ""))
        address = tokens.address(token) if tokens is not None else None
        if address is None:
            return HTMLResponse(
                page(
                    say(_BAD_LINK, choices.catalog),
                    say(_BAD_LINK_TEXT, choices.catalog),
                    catalog=choices.catalog,
                ),
                status_code=404,
            )
        headers = {"Cache-Control": "no-store"}
        if request.method == "GET":
            record = await store.get(address)
            return HTMLResponse(preferences_page(choices, record, address, token), headers=headers)
        body = await read_body(request, 64 * 1024)
        checked = check_choice(choices, form_fields(body, request.headers.get("content-type", "")))
        if isinstance(checked, str):
            record = await store.get(address)
            return HTMLResponse(
                preferences_page(choices, record, address, token, problem=checked),
                status_code=400,
                headers=headers,
            )
        sections, pause, zone, counted = checked
        record = await store.save(address, choices, sections, pause, zone, counted)
        said = say(_SAVED, choices.catalog) if record is not None else ""
        return HTMLResponse(
            preferences_page(choices, record, address, token, status=said), headers=headers
        )

    return endpoint
