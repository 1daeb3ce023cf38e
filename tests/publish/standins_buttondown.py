"""A stand-in for Buttondown's emails API (``/v1/emails``), checked against its OpenAPI document.

Buttondown's document (MIT, ``tests/fixtures/publish/buttondown/openapi-emails.json``) says
what each request may hold; the behaviour is the documented one: ``Authorization: Token
<key>``; ``POST /emails`` makes an email whose status defaults to ``about_to_send`` (sent at
once), ``draft`` keeps it, ``scheduled`` needs a ``publish_date`` (400
``publish_date_missing``); errors are
``{"code", "detail"}`` (400), ``{"detail": [...]}`` (422 for a request off the schema), 404
``{"detail": "Not found."}`` and 429 with ``Retry-After``.
"""

from __future__ import annotations

from typing import Any

from tests.publish.standin_api import (
    CampaignApi,
    Reply,
    check_answer,
    load,
    openapi_problems,
    query_problems,
)

SPEC = load("buttondown", "openapi-emails.json")


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


class ButtondownApi(CampaignApi):
    """Buttondown's ``/v1/emails``: create, list, retrieve, update and send-draft."""

    tool = "buttondown"
    #: Emails a page of ``GET /emails`` holds (small, so that tests page through).
    page_size = 3

    def authorised(self, headers: Any) -> bool:
        return bool(headers.get("Authorization") == f"Token {self.key}")

    def refused_key(self) -> Reply:
        return Reply(401, {"detail": "Invalid token."})

    def busy(self) -> Reply:
        return Reply(429, {"detail": "Request was throttled."}, {"Retry-After": "0"})

    def invalid(self, problems: list[str]) -> Reply:
        detail = [{"type": "value_error", "loc": ["body"], "msg": p} for p in problems[:3]]
        return Reply(422, {"detail": detail})

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Reply:
        parts = path.removeprefix("/v1").strip("/").split("/")
        if parts == ["emails"] and method == "POST":
            return self._create(body)
        if parts == ["emails"] and method == "GET":
            return self._list(query)
        if len(parts) >= 2 and parts[0] == "emails":
            email = self.campaigns.get(parts[1])
            if email is None:
                return Reply(404, {"detail": "Not found."})
            if len(parts) == 2 and method == "GET":
                return self._answer(200, email)
            if len(parts) == 2 and method == "PATCH":
                return self._update(email, body)
            if parts[2:] == ["send-draft"] and method == "POST":
                return self._send_draft(email, body)
        return Reply(404, {"detail": "Not found."})

    def mark(self, campaign_id: str, status: str) -> None:
        self.campaigns[campaign_id]["status"] = status

    def _answer(self, status: int, email: dict[str, Any]) -> Reply:
        check_answer(openapi_problems(SPEC, _ref("Email"), email))
        return Reply(status, email)

    def _create(self, body: Any) -> Reply:
        problems = openapi_problems(SPEC, _ref("EmailInput"), body)
        if problems:
            return self.invalid(problems)
        status = body.get("status", "about_to_send")
        if status not in ("draft", "scheduled", "about_to_send"):
            detail = f"Emails cannot be created with status '{status}'."
            return Reply(400, {"code": "status_invalid", "detail": detail})
        if status == "scheduled" and not body.get("publish_date"):
            detail = "Scheduled emails need a publish_date."
            return Reply(400, {"code": "publish_date_missing", "detail": detail})
        number = next(self.numbers)
        email_id = f"em_0{number:025d}"
        email = {
            "id": email_id,
            "creation_date": "2026-12-06T06:00:00Z",
            "modification_date": "2026-12-06T06:00:00Z",
            "absolute_url": f"https://buttondown.com/example/archive/{number}/",
            "body": body.get("body", ""),
            "canonical_url": body.get("canonical_url", ""),
            "commenting_mode": body.get("commenting_mode", "enabled"),
            "description": body.get("description", ""),
            "archival_mode": body.get("archival_mode", "enabled"),
            "featured": body.get("featured", False),
            "filters": body.get("filters", {"filters": [], "groups": [], "predicate": "and"}),
            "image": body.get("image", ""),
            "metadata": body.get("metadata", {}),
            "publish_date": body.get("publish_date"),
            "related_email_ids": body.get("related_email_ids", []),
            "should_trigger_pay_per_email_billing": False,
            "source": "api",
            "status": status,
            "subject": body.get("subject", ""),
            "template": body.get("template"),
        }
        self.campaigns[email_id] = email
        return self._answer(201, email)

    def _list(self, query: dict[str, list[str]]) -> Reply:
        problems = query_problems(SPEC["paths"]["/emails"]["get"]["parameters"], query)
        if problems:
            return Reply(400, {"code": "invalid_query", "detail": "; ".join(problems)})
        emails = list(self.campaigns.values())
        if query.get("status"):
            emails = [e for e in emails if e["status"] in query["status"]]
        if query.get("ordering") == ["-creation_date"]:
            emails.reverse()
        page = int(query.get("page", ["1"])[0])
        start = (page - 1) * self.page_size
        results = emails[start : start + self.page_size]
        if not results and page > 1:
            return Reply(404, {"detail": "Invalid page."})
        more = start + self.page_size < len(emails)
        data = {
            "results": results,
            "count": len(emails),
            "next": f"{self.url}/v1/emails?page={page + 1}" if more else None,
            "previous": f"{self.url}/v1/emails?page={page - 1}" if page > 1 else None,
        }
        check_answer(openapi_problems(SPEC, _ref("EmailPage"), data))
        return Reply(200, data)

    def _update(self, email: dict[str, Any], body: Any) -> Reply:
        problems = openapi_problems(SPEC, _ref("EmailUpdateInput"), body)
        if problems:
            return self.invalid(problems)
        if email["status"] not in ("draft", "scheduled"):
            detail = f"Emails with status '{email['status']}' can no longer be edited."
            return Reply(400, {"code": "status_invalid", "detail": detail})
        if body.get("status") == "scheduled" and not (
            body.get("publish_date") or email.get("publish_date")
        ):
            detail = "Scheduled emails need a publish_date."
            return Reply(400, {"code": "publish_date_missing", "detail": detail})
        for name, value in body.items():
            if value is not None:
                email[name] = value
        email["modification_date"] = "2026-12-06T06:05:00Z"
        return self._answer(200, email)

    def _send_draft(self, email: dict[str, Any], body: Any) -> Reply:
        problems = openapi_problems(SPEC, _ref("SendDraftInput"), body)
        if problems:
            return self.invalid(problems)
        self.tests_sent.append((email["id"], list(body.get("recipients") or [])))
        return Reply(200, None)
