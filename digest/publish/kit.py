"""Kit (formerly ConvertKit, API v4): a broadcast, kept as a draft or scheduled.

A broadcast is created as a draft (``POST /v4/broadcasts`` with ``send_at: null``), changed
while it is one (``PUT /v4/broadcasts/{id}``, which takes every field again) and scheduled
(``PUT`` with ``send_at``); ``GET /v4/broadcasts/{id}`` tells its state and ``GET
/v4/broadcasts`` finds it by its description, which carries the edition's marker, after a
lost answer. The key is read from ``KIT_API_KEY``. Kit's API has no test send, and a
broadcast no text part: Kit makes it from the HTML.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from digest.publish.base import Campaign, CampaignStatus, Content, NotFound, Publisher
from digest.publish.merge import KIT, MergeLanguage
from digest.settings import KitSettings

__all__ = ["Kit"]


_STATES: dict[str, CampaignStatus] = {
    "draft": "draft",
    "scheduled": "scheduled",
    "sending": "sending",
    "completed": "sent",
    "sent": "sent",
}

#: Broadcasts a page of ``GET /v4/broadcasts`` asks for.
PAGE = 100
#: Pages read, newest first, looking for a marker.
FIND_PAGES = 20


class Kit(Publisher):
    """Kit's broadcasts API: one broadcast an edition (``[publish.kit]``)."""

    name = "Kit"
    tool = "kit"
    key_variables = ("KIT_API_KEY",)
    default_base_url = "https://api.kit.com"
    settings: KitSettings

    @property
    def language(self) -> MergeLanguage:
        """Kit's Liquid tags (``{{ unsubscribe_url }}``, ``{{ subscriber.first_name }}``...)."""
        return KIT

    def auth_headers(self) -> dict[str, str]:
        """The key in an ``X-Kit-Api-Key`` header."""
        return {"X-Kit-Api-Key": self.keys["KIT_API_KEY"]}

    def error_text(self, answer: Any) -> str:
        """Kit's ``errors``, one sentence each."""
        data = answer.json()
        if isinstance(data, dict) and isinstance(data.get("errors"), list):
            return "; ".join(str(error) for error in data["errors"]) or super().error_text(answer)
        return super().error_text(answer)

    def _broadcast(self, data: Any) -> dict[str, Any]:
        broadcast = data.get("broadcast") if isinstance(data, dict) else None
        if not isinstance(broadcast, dict) or not isinstance(broadcast.get("id"), int):
            raise self.fail("an answer without a broadcast id")
        return broadcast

    def _campaign(self, broadcast: dict[str, Any]) -> Campaign:
        status = broadcast.get("status")
        if not isinstance(status, str):  # not in Kit's required fields: read it off send_at
            status = "scheduled" if broadcast.get("send_at") else "draft"
        return Campaign(str(broadcast["id"]), _STATES.get(status, "other"))

    def _filter(self) -> list[dict[str, Any]]:
        """One filter group, as Kit's API takes them: ``all`` (and) or ``any`` (or)."""
        rules = [
            {"type": kind, "ids": list(ids)}
            for kind, ids in (
                ("segment", self.settings.segment_ids),
                ("tag", self.settings.tag_ids),
            )
            if ids
        ]
        if self.settings.match == "any" and rules:
            return [{"all": [], "any": rules, "none": None}]
        return [{"all": rules, "any": None, "none": None}]

    def _fields(self, content: Content, send_at: str | None) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "email_address": self.settings.email_address,
            "content": content.html,
            "description": content.title,
            "public": self.settings.public,
            "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "send_at": send_at,
            "thumbnail_alt": None,
            "thumbnail_url": None,
            "preview_text": content.preheader,
            "subject": content.subject,
            "subscriber_filter": self._filter(),
        }
        if self.settings.email_template_id is not None:
            fields["email_template_id"] = self.settings.email_template_id
        return fields

    def create(self, content: Content) -> Campaign:
        """A draft broadcast for the settings' segments and tags (every subscriber without)."""
        data = self.request("POST", "/v4/broadcasts", self._fields(content, None))
        return self._campaign(self._broadcast(data))

    def _put(self, campaign_id: str, fields: dict[str, Any]) -> Campaign:
        """A ``PUT``, which needs every field: the template the broadcast has if none is set."""
        if "email_template_id" not in fields:
            current = self._broadcast(self.request("GET", f"/v4/broadcasts/{campaign_id}"))
            template = current.get("email_template")
            if isinstance(template, dict) and isinstance(template.get("id"), int):
                fields["email_template_id"] = template["id"]
        data = self.request("PUT", f"/v4/broadcasts/{campaign_id}", fields)
        return self._campaign(self._broadcast(data))

    def update(self, campaign: Campaign, content: Content) -> Campaign:
        """The draft's subject, preview text, HTML and audience replaced."""
        return self._put(campaign.id, self._fields(content, None))

    def status(self, campaign_id: str) -> Campaign | None:
        """The broadcast's state (draft, scheduled, sending, completed); None once deleted."""
        try:
            data = self.request("GET", f"/v4/broadcasts/{campaign_id}")
        except NotFound:
            return None
        return self._campaign(self._broadcast(data))

    def find(self, marker: str) -> Campaign | None:
        """The newest broadcast whose description carries ``marker``."""
        after: str | None = None
        for _ in range(FIND_PAGES):
            query: dict[str, str | int] = {"per_page": PAGE}
            if after:
                query["after"] = after
            data = self.request("GET", "/v4/broadcasts", query=query)
            broadcasts = data.get("broadcasts") if isinstance(data, dict) else None
            for item in broadcasts or []:
                if isinstance(item, dict) and marker in str(item.get("description") or ""):
                    return self._campaign(item)
            pagination = data.get("pagination") if isinstance(data, dict) else None
            if not isinstance(pagination, dict) or not pagination.get("has_next_page"):
                return None
            after = str(pagination.get("end_cursor") or "")
            if not after:
                return None
        return None

    def test_send(self, campaign: Campaign, addresses: list[str]) -> None:
        """Not in Kit's API: a ``PublishError`` that says to send a preview from Kit."""
        raise self.fail(
            "its API (v4) has no test send; send a preview from the broadcast's page in Kit"
        )

    def schedule(self, campaign: Campaign, at: datetime) -> Campaign:
        """Scheduled to go out at ``at`` (the broadcast's fields sent again, with ``send_at``)."""
        current = self._broadcast(self.request("GET", f"/v4/broadcasts/{campaign.id}"))
        when = at.astimezone(UTC).isoformat(timespec="seconds")
        fields = {
            "email_address": current.get("email_address"),
            "content": current.get("content") or "",
            "description": current.get("description") or "",
            "public": bool(current.get("public")),
            "published_at": current.get("published_at") or when,
            "send_at": when,
            "thumbnail_alt": current.get("thumbnail_alt"),
            "thumbnail_url": current.get("thumbnail_url"),
            "preview_text": current.get("preview_text") or "",
            "subject": current.get("subject") or "",
            "subscriber_filter": self._filter(),
        }
        template = current.get("email_template")
        if isinstance(template, dict) and isinstance(template.get("id"), int):
            fields["email_template_id"] = template["id"]
        return self._put(campaign.id, fields)
