"""Brevo (API v3): an email campaign for the newsletter's contact lists.

A campaign is created (``POST /emailCampaigns``: a draft, its name the edition's title with
its marker), changed while it is a draft (``PUT /emailCampaigns/{id}``), tested (``POST
/emailCampaigns/{id}/sendTest``) and scheduled (``PUT`` with ``scheduledAt``, which makes it
``queued``); ``GET /emailCampaigns/{id}`` tells its state and ``GET /emailCampaigns`` finds it
by its name after a lost answer. The key is read from ``BREVO_API_KEY``. A Brevo campaign has
no text part of its own: Brevo makes it from the HTML.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from digest.publish.base import Campaign, CampaignStatus, Content, NotFound, Publisher
from digest.publish.merge import BREVO, MergeLanguage
from digest.settings import BrevoSettings

__all__ = ["Brevo"]


_STATES: dict[str, CampaignStatus] = {
    "draft": "draft",
    "queued": "scheduled",
    "in_process": "sending",
    "inProcess": "sending",
    "sent": "sent",
}

#: Campaigns a page of ``GET /emailCampaigns`` asks for (Brevo's most).
PAGE = 100
#: Pages read, newest first, looking for a marker.
FIND_PAGES = 20


class Brevo(Publisher):
    """Brevo's email campaigns API: one campaign an edition (``[publish.brevo]``)."""

    name = "Brevo"
    tool = "brevo"
    key_variables = ("BREVO_API_KEY",)
    default_base_url = "https://api.brevo.com/v3"
    settings: BrevoSettings

    @property
    def language(self) -> MergeLanguage:
        """Brevo's template language (``{{ unsubscribe }}``, ``{{ contact.FIRSTNAME }}``...)."""
        return BREVO

    def auth_headers(self) -> dict[str, str]:
        """The key in an ``api-key`` header."""
        return {"api-key": self.keys["BREVO_API_KEY"]}

    def error_text(self, answer: Any) -> str:
        """Brevo's ``message``, with its ``code`` (``campaign_sent``, ``invalid_parameter``...)."""
        data = answer.json()
        text = super().error_text(answer)
        if isinstance(data, dict) and isinstance(data.get("code"), str):
            return f"{text} ({data['code']})"
        return text

    def _campaign(self, campaign_id: object, status: object) -> Campaign:
        if not isinstance(campaign_id, int) or isinstance(campaign_id, bool):
            raise self.fail("an answer without a campaign id")
        return Campaign(str(campaign_id), _STATES.get(str(status), "other"))

    def _fields(self, content: Content) -> dict[str, Any]:
        sender: dict[str, Any] = {"name": content.from_name}
        if self.settings.sender_id is not None:
            sender["id"] = self.settings.sender_id
        else:
            sender["email"] = self.settings.sender_email
        fields: dict[str, Any] = {
            "name": content.title,
            "subject": content.subject,
            "sender": sender,
            "replyTo": content.reply_to,
            "htmlContent": content.html,
            "mirrorActive": True,
        }
        if self.settings.list_ids or self.settings.exclusion_list_ids:
            fields["recipients"] = {
                "listIds": list(self.settings.list_ids),
                "exclusionListIds": list(self.settings.exclusion_list_ids),
            }
        if self.settings.tag:
            fields["tag"] = self.settings.tag
        return fields

    def create(self, content: Content) -> Campaign:
        """A draft campaign for the settings' lists."""
        data = self.request("POST", "/emailCampaigns", self._fields(content))
        return self._campaign((data or {}).get("id") if isinstance(data, dict) else None, "draft")

    def update(self, campaign: Campaign, content: Content) -> Campaign:
        """The draft's name, subject, sender, HTML and lists replaced."""
        self.request("PUT", f"/emailCampaigns/{campaign.id}", self._fields(content))
        return Campaign(campaign.id, "draft", campaign.url)

    def status(self, campaign_id: str) -> Campaign | None:
        """The campaign's state (draft, queued, in process, sent); None once deleted (404)."""
        try:
            data = self.request("GET", f"/emailCampaigns/{campaign_id}")
        except NotFound:
            return None
        if not isinstance(data, dict):
            raise self.fail("an answer without a campaign")
        return self._campaign(data.get("id"), data.get("status"))

    def find(self, marker: str) -> Campaign | None:
        """The newest campaign whose name carries ``marker``."""
        for page in range(FIND_PAGES):
            query = {"limit": PAGE, "offset": page * PAGE, "excludeHtmlContent": "true"}
            data = self.request("GET", "/emailCampaigns", query=query)
            campaigns = data.get("campaigns") if isinstance(data, dict) else None
            for item in campaigns or []:
                if isinstance(item, dict) and marker in str(item.get("name", "")):
                    return self._campaign(item.get("id"), item.get("status"))
            count = data.get("count") if isinstance(data, dict) else 0
            if not campaigns or not isinstance(count, int) or (page + 1) * PAGE >= count:
                return None
        return None

    def test_send(self, campaign: Campaign, addresses: list[str]) -> None:
        """The campaign sent to ``addresses`` (each must be in the account's test list)."""
        self.request("POST", f"/emailCampaigns/{campaign.id}/sendTest", {"emailTo": addresses})

    def schedule(self, campaign: Campaign, at: datetime) -> Campaign:
        """Scheduled to go out at ``at`` (Brevo needs the settings' ``list_ids`` for it)."""
        when = at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.request("PUT", f"/emailCampaigns/{campaign.id}", {"scheduledAt": when})
        return Campaign(campaign.id, "scheduled", campaign.url)
