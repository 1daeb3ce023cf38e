"""``publish``: an edition handed to a list manager as a campaign, once per edition.

The edition is built as ``digest build`` builds it (its history, plan and window), written in
the tool's merge language (``digest.publish.merge``) and given to the tool
(``digest.publish.tools``). The history keeps the campaign by edition key and tool, so a rerun
changes the draft while it is a draft and leaves it alone once it is scheduled or sent. Before
creating, a run claims the edition in the history (two runs at once make one campaign: the
second waits for the first and then updates its draft); a campaign whose creation lost its
answer is found by its title, which carries the edition key.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from digest.errors import PublishError, UsageError
from digest.pipeline import Digest
from digest.publish.base import Campaign, Content, LostAnswer, Publisher
from digest.publish.merge import Merged, merge_edition, tags_in
from digest.publish.tools import publisher_for
from digest.schedule.build import edition_date, gather, open_history, prepare
from digest.schedule.config import BuildConfig
from digest.schedule.history import History, record_built
from digest.store.connection import transaction

__all__ = ["PublishResult", "campaign_title", "content_for", "publish", "publish_digest"]


#: What a run did with the edition's campaign.
Action = Literal["created", "updated", "unchanged", "dry run"]


@dataclass(frozen=True)
class PublishResult:
    """What ``publish`` did: the campaign, and whether it was made, changed or left alone."""

    #: The tool's name (``Mailchimp``).
    tool: str
    #: The edition's key (newsletter, date, number).
    edition: str
    action: Action
    #: The campaign (None on a dry run).
    campaign: Campaign | None
    #: What was sent to the tool, in its merge language.
    merged: Merged
    #: When the campaign is scheduled to go out, if this run scheduled it.
    scheduled: datetime | None = None
    #: The addresses a test went to.
    tested: tuple[str, ...] = ()

    def describe(self, link: bool = True) -> str:
        """One line for a person: what happened, the campaign's state and (``link``) its link."""
        if self.campaign is None:
            tags = ", ".join(sorted(tags_in(self.merged)))
            return f"{self.tool}: {self.edition}: dry run, nothing sent; its tags: {tags}"
        campaign = self.campaign
        what = {
            "created": f"created campaign {campaign.id}",
            "updated": f"updated draft {campaign.id}",
            "unchanged": f"campaign {campaign.id} is {campaign.status}: left as it is",
            "dry run": "dry run",
        }[self.action]
        parts = [f"{self.tool}: {self.edition}: {what}"]
        if self.tested:
            parts.append(f"test sent to {', '.join(self.tested)}")
        if self.scheduled is not None:
            parts.append(f"scheduled for {self.scheduled.isoformat()}")
        elif campaign.editable:
            parts.append("a draft for an editor to send")
        if campaign.url and link:
            parts.append(campaign.url)
        return "; ".join(parts)


def campaign_title(edition: str) -> str:
    """The campaign's name in the tool: the edition key, which finds it again after a loss."""
    return f"{edition} (digest)"


def content_for(digest: Digest, publisher: Publisher, merged: Merged) -> Content:
    """The campaign's content: the merged parts, the title and the sender."""
    newsletter = digest.newsletter
    settings = publisher.settings
    title = campaign_title(digest.edition_key)
    return Content(
        subject=merged.subject,
        preheader=merged.preheader,
        html=merged.html,
        text=merged.text,
        title=title,
        marker=title,
        from_name=settings.from_name or newsletter.sender.name,
        reply_to=settings.reply_to or newsletter.contact.reply_to or newsletter.sender.address,
    )


def publish(
    config: BuildConfig,
    to: str,
    on: date | None = None,
    *,
    schedule: datetime | None = None,
    test_to: Sequence[str] = (),
    dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
) -> PublishResult:
    """Build the edition dated ``on`` (the latest scheduled by default) and publish it to ``to``.

    ``schedule`` is when the campaign goes out (else the edition's send time when
    ``[publish.<tool>] mode = "schedule"``, else it stays a draft); ``test_to`` gets a test
    from the tool; ``dry_run`` builds and merges but sends nothing.
    """
    on = edition_date(config, on)
    publisher = publisher_for(config.publish, to, environ)
    gathered = gather(config)
    history = open_history(config)
    with history or contextlib.nullcontext():
        digest, _ = prepare(config, on, gathered, history)
        return publish_digest(
            digest,
            publisher,
            history,
            schedule=schedule,
            test_to=test_to,
            dry_run=dry_run,
        )


def publish_digest(
    digest: Digest,
    publisher: Publisher,
    history: History | None,
    *,
    schedule: datetime | None = None,
    test_to: Sequence[str] = (),
    dry_run: bool = False,
    wait: float = 120.0,
) -> PublishResult:
    """Publish a built ``digest`` with ``publisher``, once per edition (see ``publish``).

    ``wait`` is how long to wait for another run that is creating the same campaign.
    """
    if schedule is not None and schedule.tzinfo is None:
        raise UsageError(f"--schedule {schedule.isoformat()}: give a time zone (+07:00 or Z)")
    merged = merge_edition(digest, publisher.language)
    content = content_for(digest, publisher, merged)
    key = digest.edition_key
    if dry_run:
        return PublishResult(publisher.name, key, "dry run", None, merged)
    at = schedule
    if at is None and publisher.settings.mode == "schedule":
        at = digest.sent_at
    if at is not None and at <= datetime.now(at.tzinfo):
        raise UsageError(
            f"{publisher.name}: the send time {at.isoformat()} has passed; "
            "give another with --schedule, or publish a draft"
        )
    campaign, action = _campaign(publisher, history, key, content, wait)
    tested: tuple[str, ...] = ()
    scheduled = None
    if campaign.editable and test_to:
        publisher.test_send(campaign, list(test_to))
        tested = tuple(test_to)
    if campaign.editable and at is not None:
        campaign = publisher.schedule(campaign, at)
        scheduled = at
        _keep(history, key, publisher, campaign)
    if history is not None and action != "unchanged":
        with transaction(history.db):
            record_built(history, digest)
    return PublishResult(publisher.name, key, action, campaign, merged, scheduled, tested)


def _campaign(
    publisher: Publisher, history: History | None, key: str, content: Content, wait: float
) -> tuple[Campaign, Action]:
    """The edition's campaign made, updated or left alone, as the history and the tool say."""
    known = _known(publisher, history, key, wait)
    try:
        if known is None:  # this run holds the claim: look before creating
            known = publisher.find(content.marker)
        if known is None:
            created = _create(publisher, content)
            _keep(history, key, publisher, created)
            return created, "created"
        action: Action = "unchanged"
        if known.editable:
            known, action = publisher.update(known, content), "updated"
        _keep(history, key, publisher, known)
        return known, action
    except BaseException:
        # A claim that made nothing is dropped (the next run looks for the campaign by its
        # title first); a campaign already recorded stays.
        if history is not None:
            history.release_campaign(key, publisher.tool)
        raise


def _create(publisher: Publisher, content: Content) -> Campaign:
    """A new campaign; after a lost answer, the one the tool made, found by its title."""
    try:
        return publisher.create(content)
    except LostAnswer as lost:
        found = publisher.find(content.marker)
        if found is None:
            raise PublishError(
                f"{lost} and no campaign titled {content.marker!r} is there yet; "
                "run again to look for it before creating one"
            ) from None
        return publisher.update(found, content) if found.editable else found


def _known(publisher: Publisher, history: History | None, key: str, wait: float) -> Campaign | None:
    """The campaign the history knows, as the tool has it now; None after claiming creation.

    While another run holds the claim, this one waits (up to ``wait`` seconds) for it to
    record its campaign.
    """
    if history is None:
        return None
    deadline = time.monotonic() + wait
    while True:
        record = history.campaign(key, publisher.tool)
        if record is not None and record.id:
            campaign = publisher.status(record.id)
            if campaign is not None:
                return campaign
            # Deleted in the tool: this run makes a new one.
            history.forget_campaign(key, publisher.tool)
        if history.claim_campaign(key, publisher.tool):
            return None
        if time.monotonic() > deadline:
            raise PublishError(
                f"{publisher.name}: another run has been creating the campaign of {key} "
                f"for over {wait:.0f} s; run again when it is done"
            )
        time.sleep(0.2)


def _keep(history: History | None, key: str, publisher: Publisher, campaign: Campaign) -> None:
    if history is not None:
        history.save_campaign(key, publisher.tool, campaign.id, campaign.url, campaign.status)
