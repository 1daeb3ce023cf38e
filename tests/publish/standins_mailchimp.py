"""A stand-in for Mailchimp's campaigns (Marketing API 3.0), checked against its OpenAPI extract.

Every request is checked against ``tests/fixtures/publish/mailchimp/openapi-campaigns.json``
(the campaign operations of Mailchimp's own OpenAPI document; see the README there); the
behaviour is the documented one: HTTP basic authentication with the key as the password;
``POST /campaigns`` makes a campaign in ``save`` (draft) state; its content and settings change
only while it is a draft; a schedule is on the quarter-hour; errors are RFC 9457 problem
documents (400 with an ``errors`` array, 401, 404, 429 with ``Retry-After``).
"""

from __future__ import annotations

import base64
import itertools
from datetime import datetime
from typing import Any

from tests.publish.standin_api import (
    CampaignApi,
    Reply,
    check_answer,
    load,
    openapi_problems,
    query_problems,
)

SPEC = load("mailchimp", "openapi-campaigns.json")
PATHS = SPEC["paths"]


def _body(path: str, method: str) -> dict[str, Any]:
    schema: dict[str, Any] = PATHS[path][method]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    return schema


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def problem(status: int, title: str, detail: str, **extra: Any) -> Reply:
    """A problem document as Mailchimp answers an error."""
    body = {
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": "995c5cb0-3280-4a6e-808b-3b096d0bb219",
        **extra,
    }
    check_answer(openapi_problems(SPEC, _ref("ProblemDetailDocument"), body))
    return Reply(status, body, {"Retry-After": "0"} if status == 429 else {})


class MailchimpApi(CampaignApi):
    """Mailchimp's campaigns: create, content, settings, test, schedule, read and list."""

    tool = "mailchimp"
    #: The audiences this account has.
    lists = frozenset({"a1b2c3d4e5"})

    def __init__(self, key: str = "0123456789abcdef0123456789abcdef-us6") -> None:
        super().__init__(key)
        self.web_ids = itertools.count(1001)
        self.ids = itertools.count(1)
        self.contents: dict[str, dict[str, Any]] = {}
        self.schedules: dict[str, str] = {}

    def authorised(self, headers: Any) -> bool:
        pair = base64.b64decode(headers.get("Authorization", "Basic ").split()[-1] or b"")
        return pair.decode(errors="replace").partition(":")[2] == self.key

    def refused_key(self) -> Reply:
        return problem(
            401,
            "API Key Invalid",
            "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
        )

    def busy(self) -> Reply:
        return problem(429, "Too Many Requests", "You have exceeded the limit of 10 requests.")

    def invalid(self, problems: list[str]) -> Reply:
        errors = [{"field": p.partition(":")[0], "message": p} for p in problems[:5]]
        detail = "The resource submitted could not be validated. See the 'errors' array."
        return problem(400, "Invalid Resource", detail, errors=errors)

    def missing(self) -> Reply:
        return problem(404, "Resource Not Found", "The requested resource could not be found.")

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Reply:
        parts = path.removeprefix("/3.0").strip("/").split("/")
        if parts == ["campaigns"]:
            return self._create(body) if method == "POST" else self._list(query)
        if parts[0] != "campaigns" or len(parts) < 2:
            return self.missing()
        campaign = self.campaigns.get(parts[1])
        if campaign is None:
            return self.missing()
        where = "/".join(parts[2:])
        if where == "" and method == "GET":
            problems = query_problems(
                PATHS["/3.0/campaigns/{campaign_id}"]["get"]["parameters"], query
            )
            return self.invalid(problems) if problems else self._answer(campaign)
        if where == "" and method == "PATCH":
            return self._patch(campaign, body)
        if where == "content" and method == "PUT":
            return self._content(campaign, body)
        if where == "actions/test" and method == "POST":
            return self._test(campaign, body)
        if where == "actions/schedule" and method == "POST":
            return self._schedule(campaign, body)
        return self.missing()

    def mark(self, campaign_id: str, status: str) -> None:
        self.campaigns[campaign_id]["status"] = status

    def _answer(self, campaign: dict[str, Any]) -> Reply:
        check_answer(openapi_problems(SPEC, _ref("Campaign"), campaign))
        return Reply(200, campaign)

    def _create(self, body: Any) -> Reply:
        problems = openapi_problems(SPEC, _body("/3.0/campaigns", "post"), body)
        if problems:
            return self.invalid(problems)
        if body["recipients"]["list_id"] not in self.lists:
            return self.invalid(["recipients.list_id: Invalid Resource: no such list"])
        campaign_id = f"{next(self.ids):010x}"
        self.campaigns[campaign_id] = {
            "id": campaign_id,
            "web_id": next(self.web_ids),
            "type": body["type"],
            "status": "save",
            "create_time": "2026-12-06T06:00:00+00:00",
            "content_type": "template",
            "recipients": body["recipients"],
            "settings": body.get("settings", {}),
        }
        return self._answer(self.campaigns[campaign_id])

    def _list(self, query: dict[str, list[str]]) -> Reply:
        problems = query_problems(PATHS["/3.0/campaigns"]["get"]["parameters"], query)
        if problems:
            return self.invalid(problems)
        found = list(self.campaigns.values())
        if "list_id" in query:
            found = [c for c in found if c["recipients"]["list_id"] in query["list_id"]]
        if query.get("sort_dir") == ["DESC"]:
            found.reverse()
        found = found[: int(query.get("count", ["10"])[0])]
        return Reply(200, {"campaigns": found, "total_items": len(found)})

    def _editable(self, campaign: dict[str, Any]) -> Reply | None:
        if campaign["status"] in ("save", "paused"):
            return None
        detail = f"This campaign cannot be updated: it is in the {campaign['status']} state."
        return problem(400, "Bad Request", detail)

    def _patch(self, campaign: dict[str, Any], body: Any) -> Reply:
        problems = openapi_problems(SPEC, _body("/3.0/campaigns/{campaign_id}", "patch"), body)
        if problems:
            return self.invalid(problems)
        refused = self._editable(campaign)
        if refused is not None:
            return refused
        campaign["settings"] = {**campaign["settings"], **body.get("settings", {})}
        return self._answer(campaign)

    def _content(self, campaign: dict[str, Any], body: Any) -> Reply:
        problems = openapi_problems(SPEC, _ref("CampaignContent"), body)
        if problems:
            return self.invalid(problems)
        refused = self._editable(campaign)
        if refused is not None:
            return refused
        self.contents[campaign["id"]] = body
        return Reply(200, {"html": body.get("html", ""), "plain_text": body.get("plain_text", "")})

    def _test(self, campaign: dict[str, Any], body: Any) -> Reply:
        schema = _body("/3.0/campaigns/{campaign_id}/actions/test", "post")
        problems = openapi_problems(SPEC, schema, body)
        if problems:
            return self.invalid(problems)
        if campaign["id"] not in self.contents:
            return problem(400, "Bad Request", "Your Campaign is not ready to send.")
        self.tests_sent.append((campaign["id"], list(body["test_emails"])))
        return Reply(204)

    def _schedule(self, campaign: dict[str, Any], body: Any) -> Reply:
        schema = _body("/3.0/campaigns/{campaign_id}/actions/schedule", "post")
        problems = openapi_problems(SPEC, schema, body)
        if problems:
            return self.invalid(problems)
        at = datetime.fromisoformat(body["schedule_time"].replace("Z", "+00:00"))
        if at.minute % 15 or at.second:
            detail = "Campaigns may only be scheduled to send on the quarter-hour."
            return problem(400, "Bad Request", detail)
        refused = self._editable(campaign)
        if refused is not None:
            return refused
        campaign["status"] = "schedule"
        self.schedules[campaign["id"]] = body["schedule_time"]
        return Reply(204)
