"""Buttondown (API v1): an email, kept as a draft or scheduled, for the newsletter's subscribers.

An email is created as a draft (``POST /emails`` with ``status: draft``: without it Buttondown
sends at once), changed while it is one (``PATCH /emails/{id}``), tested (``POST
/emails/{id}/send-draft``) and scheduled (``PATCH`` to ``scheduled`` with a
``publish_date``); ``GET /emails/{id}`` tells its state and ``GET /emails`` finds it again by
the edition's marker, kept in the email's ``metadata``, after a lost answer. The key is read
from ``BUTTONDOWN_API_KEY``. Buttondown has no separate text part: it makes its own from the
HTML.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from digest.publish.base import Campaign, CampaignStatus, Content, NotFound, Publisher
from digest.publish.merge import BUTTONDOWN, MergeLanguage
from digest.settings import ButtondownSettings

__all__ = ["Buttondown"]


_STATES: dict[str, CampaignStatus] = {
    "draft": "draft",
    "scheduled": "scheduled",
    "about_to_send": "sending",
    "in_flight": "sending",
    "throttled": "sending",
    "paused": "sending",
    "resending": "sending",
    "sent": "sent",
}

#: The metadata key that carries the edition's marker (found again after a lost answer).
MARKER_KEY = "digest_edition"
#: Pages of ``GET /emails`` read, newest first, looking for a marker.
FIND_PAGES = 20
#: Buttondown's note that the body is HTML (its "fancy" mode), not Markdown.
HTML_MODE = "<!-- buttondown-editor-mode: fancy -->"


class Buttondown(Publisher):
    """Buttondown's emails API: one email an edition (``[publish.buttondown]``)."""

    name = "Buttondown"
    tool = "buttondown"
    key_variables = ("BUTTONDOWN_API_KEY",)
    default_base_url = "https://api.buttondown.com/v1"
    settings: ButtondownSettings

    @property
    def language(self) -> MergeLanguage:
        """Buttondown's template variables (``{{ unsubscribe_url }}``...)."""
        return BUTTONDOWN

    def auth_headers(self) -> dict[str, str]:
        """``Authorization: Token <key>``."""
        return {"Authorization": f"Token {self.keys['BUTTONDOWN_API_KEY']}"}

    def error_text(self, answer: Any) -> str:
        """Buttondown's ``detail``: a sentence (400), or each field's problem (422)."""
        data = answer.json()
        if isinstance(data, dict) and isinstance(data.get("detail"), list):
            parts = []
            for problem in data["detail"]:
                if isinstance(problem, dict):
                    where = ".".join(str(p) for p in problem.get("loc") or [] if p != "body")
                    parts.append(
                        f"{where}: {problem.get('msg', '')}" if where else problem.get("msg", "")
                    )
            return "; ".join(str(p) for p in parts) or super().error_text(answer)
        text = super().error_text(answer)
        if isinstance(data, dict) and isinstance(data.get("code"), str):
            return f"{text} ({data['code']})"
        return text

    def _campaign(self, data: Any) -> Campaign:
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise self.fail("an answer without an email id")
        url = f"https://buttondown.com/emails/{data['id']}"
        return Campaign(data["id"], _STATES.get(str(data.get("status")), "other"), url)

    def _fields(self, content: Content) -> dict[str, Any]:
        return {
            "subject": content.subject,
            "body": f"{HTML_MODE}{content.html}",
            "description": content.preheader,
            "metadata": {MARKER_KEY: content.marker, "digest_title": content.title},
        }

    def create(self, content: Content) -> Campaign:
        """A draft email for the subscribers the settings' tags pick (every one without)."""
        body: dict[str, Any] = {
            **self._fields(content),
            "status": "draft",
            "template": self.settings.template,
            "archival_mode": "enabled" if self.settings.archive else "disabled",
        }
        if self.settings.tag_ids:
            filters = [
                {"field": "subscriber.tags", "operator": "contains", "value": tag}
                for tag in self.settings.tag_ids
            ]
            body["filters"] = {"filters": filters, "groups": [], "predicate": "or"}
        return self._campaign(self.request("POST", "/emails", body))

    def update(self, campaign: Campaign, content: Content) -> Campaign:
        """The draft's subject, HTML and description replaced."""
        path = f"/emails/{campaign.id}"
        return self._campaign(self.request("PATCH", path, self._fields(content), repeatable=True))

    def status(self, campaign_id: str) -> Campaign | None:
        """The email's state (draft, scheduled, in flight, sent); None once deleted (404)."""
        try:
            return self._campaign(self.request("GET", f"/emails/{campaign_id}"))
        except NotFound:
            return None

    def find(self, marker: str) -> Campaign | None:
        """The newest email whose metadata carries ``marker``."""
        for page in range(1, FIND_PAGES + 1):
            query = {"ordering": "-creation_date", "page": page}
            data = self.request("GET", "/emails", query=query)
            results = data.get("results") if isinstance(data, dict) else None
            for item in results or []:
                if (
                    isinstance(item, dict)
                    and (item.get("metadata") or {}).get(MARKER_KEY) == marker
                ):
                    return self._campaign(item)
            if not isinstance(data, dict) or not data.get("next"):
                return None
        return None

    def test_send(self, campaign: Campaign, addresses: list[str]) -> None:
        """The draft sent to ``addresses`` (Buttondown fills its variables for them)."""
        body = {"recipients": addresses}
        self.request("POST", f"/emails/{campaign.id}/send-draft", body)

    def schedule(self, campaign: Campaign, at: datetime) -> Campaign:
        """Scheduled to go out at ``at``."""
        when = at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        body = {"status": "scheduled", "publish_date": when}
        path = f"/emails/{campaign.id}"
        return self._campaign(self.request("PATCH", path, body, repeatable=True))
