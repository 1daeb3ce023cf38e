"""listmonk (a self-hosted list manager): a campaign for some of its lists.

``POST /api/campaigns`` creates it with its HTML and text, ``PUT /api/campaigns/{id}``
changes a draft, ``POST /api/campaigns/{id}/test`` sends a test, and ``send_at`` with ``PUT
/api/campaigns/{id}/status`` (``scheduled``) schedules it; ``GET /api/campaigns/{id}`` tells its
state and ``GET /api/campaigns?query=`` finds one by its name after a lost answer. An API user
and its token come from ``LISTMONK_USER`` and ``LISTMONK_TOKEN``.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from digest.publish.base import Campaign, CampaignStatus, Content, NotFound, Publisher
from digest.publish.merge import LISTMONK, MergeLanguage
from digest.settings import ListmonkSettings

__all__ = ["Listmonk"]


_STATES: dict[str, CampaignStatus] = {
    "draft": "draft",
    "scheduled": "scheduled",
    "running": "sending",
    "paused": "sending",
    "finished": "sent",
}


class Listmonk(Publisher):
    """listmonk's API: campaigns for the lists of ``[publish.listmonk]``."""

    name = "listmonk"
    tool = "listmonk"
    key_variables = ("LISTMONK_USER", "LISTMONK_TOKEN")
    settings: ListmonkSettings

    @property
    def language(self) -> MergeLanguage:
        """The template expressions of listmonk (``{{ UnsubscribeURL }}``...)."""
        return LISTMONK

    def __init__(self, settings: ListmonkSettings, environ: Any = None) -> None:
        if settings.base_url is not None:
            settings = settings.model_copy(
                update={"base_url": settings.base_url.rstrip("/") + "/api"}
            )
        super().__init__(settings, environ)
        self.admin = (settings.base_url or "").removesuffix("/api")

    def auth_headers(self) -> dict[str, str]:
        """HTTP basic authentication: the API user and its token."""
        pair = f"{self.keys['LISTMONK_USER']}:{self.keys['LISTMONK_TOKEN']}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}

    def _campaign(self, data: Any) -> Campaign:
        if isinstance(data, dict) and isinstance(data.get("data"), dict):
            data = data["data"]
        if not isinstance(data, dict) or not isinstance(data.get("id"), int):
            raise self.fail("an answer without a campaign id")
        url = f"{self.admin}/admin/campaigns/{data['id']}"
        return Campaign(str(data["id"]), _STATES.get(str(data.get("status")), "other"), url)

    def _fields(self, content: Content) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "name": content.title,
            "subject": content.subject,
            "lists": list(self.settings.lists),
            "type": "regular",
            "content_type": "html",
            "body": content.html,
            "altbody": content.text,
            "messenger": "email",
            "tags": ["digest"],
        }
        if self.settings.from_email:
            fields["from_email"] = f"{content.from_name} <{self.settings.from_email}>"
        return fields

    def create(self, content: Content) -> Campaign:
        """A draft campaign of the edition's HTML and text for the configured lists."""
        return self._campaign(self.request("POST", "/campaigns", self._fields(content)))

    def update(self, campaign: Campaign, content: Content) -> Campaign:
        """The draft's name, subject, HTML and text replaced."""
        data = self.request("PUT", f"/campaigns/{campaign.id}", self._fields(content))
        return self._campaign(data)

    def status(self, campaign_id: str) -> Campaign | None:
        """The campaign's state (draft, scheduled, running, finished); None once deleted."""
        try:
            return self._campaign(
                self.request("GET", f"/campaigns/{campaign_id}", query={"no_body": "true"})
            )
        except NotFound:
            return None

    def find(self, marker: str) -> Campaign | None:
        """The newest campaign named ``marker``."""
        query: dict[str, str | int] = {
            "query": marker,
            "per_page": "all",
            "order_by": "created_at",
            "order": "DESC",
            "no_body": "true",
        }
        data = self.request("GET", "/campaigns", query=query)
        results = ((data or {}).get("data") or {}).get("results") or []
        for item in results:
            if isinstance(item, dict) and item.get("name") == marker:
                return self._campaign(item)
        return None

    def _current(self, campaign: Campaign) -> dict[str, Any]:
        """The campaign's fields as listmonk has them (its test and its update need them all)."""
        found = self.request("GET", f"/campaigns/{campaign.id}")
        data = (found or {}).get("data") or {}
        fields = {key: data[key] for key in _KEPT if data.get(key) is not None}
        fields["lists"] = [item["id"] for item in data.get("lists") or [] if "id" in item]
        return fields

    def test_send(self, campaign: Campaign, addresses: list[str]) -> None:
        """A test to ``addresses`` (listmonk takes the campaign's fields with the test)."""
        fields = {**self._current(campaign), "subscribers": addresses}
        self.request("POST", f"/campaigns/{campaign.id}/test", fields)

    def schedule(self, campaign: Campaign, at: datetime) -> Campaign:
        """``send_at`` set on the draft, then its status moved to scheduled."""
        fields = self._current(campaign)
        fields["send_at"] = at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        fields["send_later"] = True
        self.request("PUT", f"/campaigns/{campaign.id}", fields)
        answer = self.request("PUT", f"/campaigns/{campaign.id}/status", {"status": "scheduled"})
        return self._campaign(answer)


#: The fields of a campaign sent back with a test or an update.
_KEPT = ("name", "subject", "from_email", "type", "content_type", "body", "altbody", "messenger")
