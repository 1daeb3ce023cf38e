"""A stand-in for Brevo's email campaigns API (``/v3/emailCampaigns``), checked against its
published Swagger description.

Brevo's description (MIT, ``tests/fixtures/publish/brevo/swagger-email-campaigns.json``) says
what each request may hold (an undocumented field is refused too: the description lists every
field); the behaviour is the documented one: the key in an ``api-key`` header; ``POST``
answers 201 ``{"id"}``; ``PUT`` and the test send answer 204; a campaign with ``scheduledAt``
needs ``recipients.listIds`` and is ``queued``; a campaign sent or being sent cannot be
changed (400 ``campaign_sent`` / ``campaign_processing``); errors are ``{"code",
"message"}`` with the description's codes; 404 ``document_not_found``; 429 with
``Retry-After``.
"""

from __future__ import annotations

from typing import Any

from tests.publish.standin_api import (
    CampaignApi,
    Reply,
    check_answer,
    load,
    query_problems,
    swagger_problems,
    undocumented,
)

SPEC = load("brevo", "swagger-email-campaigns.json")


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/definitions/{name}"}


def _body_schema(path: str, method: str) -> dict[str, Any]:
    for parameter in SPEC["paths"][path][method]["parameters"]:
        if parameter["in"] == "body":
            schema: dict[str, Any] = parameter["schema"]
            return schema
    raise KeyError(path)


def _definition(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        found: dict[str, Any] = SPEC["definitions"][schema["$ref"].split("/")[-1]]
        return found
    return schema


_ZERO_STATS = {
    "uniqueClicks": 0,
    "clickers": 0,
    "complaints": 0,
    "delivered": 0,
    "sent": 0,
    "softBounces": 0,
    "hardBounces": 0,
    "uniqueViews": 0,
    "trackableViews": 0,
    "unsubscriptions": 0,
    "viewed": 0,
}


class BrevoApi(CampaignApi):
    """Brevo's ``/v3/emailCampaigns``: create, list, get, update, send a test, set a status."""

    tool = "brevo"
    #: Campaigns a page of ``GET /emailCampaigns`` holds at most, whatever ``limit`` says.
    page_size = 3

    def authorised(self, headers: Any) -> bool:
        return bool(headers.get("api-key") == self.key)

    def refused_key(self) -> Reply:
        return Reply(401, {"code": "unauthorized", "message": "Key not found"})

    def busy(self) -> Reply:
        return Reply(
            429, {"code": "too_many_requests", "message": "Too many requests"}, {"Retry-After": "0"}
        )

    def invalid(self, problems: list[str]) -> Reply:
        return Reply(400, {"code": "invalid_parameter", "message": "; ".join(problems[:3])})

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Reply:
        parts = path.removeprefix("/v3").strip("/").split("/")
        if parts == ["emailCampaigns"] and method == "POST":
            return self._create(body)
        if parts == ["emailCampaigns"] and method == "GET":
            return self._list(query)
        if len(parts) >= 2 and parts[0] == "emailCampaigns":
            campaign = self.campaigns.get(parts[1])
            if campaign is None:
                return Reply(
                    404, {"code": "document_not_found", "message": "Campaign ID not found"}
                )
            if len(parts) == 2 and method == "GET":
                check_answer(swagger_problems(SPEC, _ref("getEmailCampaign"), campaign))
                return Reply(200, campaign)
            if len(parts) == 2 and method == "PUT":
                return self._update(campaign, body)
            if parts[2:] == ["sendTest"] and method == "POST":
                return self._send_test(campaign, body)
            if parts[2:] == ["status"] and method == "PUT":
                return self._status(campaign, body)
        return Reply(404, {"code": "document_not_found", "message": "Not found"})

    def mark(self, campaign_id: str, status: str) -> None:
        self.campaigns[campaign_id]["status"] = status

    def _problems(self, path: str, method: str, body: Any) -> list[str]:
        schema = _body_schema(path, method)
        return swagger_problems(SPEC, schema, body) + undocumented(_definition(schema), body)

    def _create(self, body: Any) -> Reply:
        problems = self._problems("/emailCampaigns", "post", body)
        if problems:
            return self.invalid(problems)
        if not (body.get("htmlContent") or body.get("htmlUrl") or body.get("templateId")):
            message = "htmlContent, htmlUrl or templateId is required"
            return Reply(400, {"code": "missing_parameter", "message": message})
        lists = body.get("recipients", {}).get("listIds", [])
        if body.get("scheduledAt") and not lists:
            message = "recipients.listIds is required when scheduledAt is given"
            return Reply(400, {"code": "missing_parameter", "message": message})
        number = 100 + next(self.numbers)
        campaign = {
            "id": number,
            "name": body["name"],
            "subject": body.get("subject", ""),
            "type": "classic",
            "status": "queued" if body.get("scheduledAt") else "draft",
            "scheduledAt": body.get("scheduledAt", ""),
            "testSent": False,
            "header": body.get("header", "[DEFAULT_HEADER]"),
            "footer": body.get("footer", "[DEFAULT_FOOTER]"),
            "sender": {**body["sender"], "id": 1},
            "replyTo": body.get("replyTo", body["sender"].get("email", "")),
            "toField": body.get("toField", ""),
            "htmlContent": body.get("htmlContent", ""),
            "tag": body.get("tag", ""),
            "createdAt": "2026-12-06T06:00:00Z",
            "modifiedAt": "2026-12-06T06:00:00Z",
            "mirrorActive": body.get("mirrorActive", True),
            "recipients": {
                "lists": lists,
                "exclusionLists": body.get("recipients", {}).get("exclusionListIds", []),
            },
            "statistics": {
                "globalStats": dict(_ZERO_STATS),
                "campaignStats": [],
                "mirrorClick": 0,
                "remaining": 0,
                "linksStats": {},
                "statsByDomain": {},
                "statsByDevice": {},
                "statsByBrowser": {},
            },
        }
        self.campaigns[str(number)] = campaign
        answer = {"id": number}
        check_answer(swagger_problems(SPEC, _ref("createModel"), answer))
        return Reply(201, answer)

    def _list(self, query: dict[str, list[str]]) -> Reply:
        problems = query_problems(SPEC["paths"]["/emailCampaigns"]["get"]["parameters"], query)
        if problems:
            return Reply(400, {"code": "invalid_parameter", "message": "; ".join(problems)})
        campaigns = list(self.campaigns.values())
        if query.get("status"):
            campaigns = [c for c in campaigns if c["status"] == query["status"][0]]
        campaigns.reverse()  # newest first, as Brevo lists them
        limit = min(int(query.get("limit", ["50"])[0]), self.page_size)
        offset = int(query.get("offset", ["0"])[0])
        page = campaigns[offset : offset + limit]
        if query.get("excludeHtmlContent") == ["true"]:
            page = [{**c, "htmlContent": ""} for c in page]
        data = {"count": len(campaigns), "campaigns": page}
        check_answer(swagger_problems(SPEC, _ref("getEmailCampaigns"), data))
        return Reply(200, data)

    def _update(self, campaign: dict[str, Any], body: Any) -> Reply:
        problems = self._problems("/emailCampaigns/{campaignId}", "put", body)
        if problems:
            return self.invalid(problems)
        if campaign["status"] == "sent":
            return Reply(400, {"code": "campaign_sent", "message": "Campaign already sent"})
        if campaign["status"] == "in_process":
            message = "Campaign is being sent"
            return Reply(400, {"code": "campaign_processing", "message": message})
        for name in ("name", "subject", "htmlContent", "replyTo", "tag", "mirrorActive"):
            if name in body:
                campaign[name] = body[name]
        if "sender" in body:
            campaign["sender"] = {**body["sender"], "id": 1}
        if "recipients" in body:
            campaign["recipients"]["lists"] = body["recipients"].get("listIds", [])
        if body.get("scheduledAt"):
            if not campaign["recipients"]["lists"]:
                message = "recipients.listIds is required when scheduledAt is given"
                return Reply(400, {"code": "missing_parameter", "message": message})
            campaign["scheduledAt"] = body["scheduledAt"]
            campaign["status"] = "queued"
        campaign["modifiedAt"] = "2026-12-06T06:05:00Z"
        return Reply(204)

    def _send_test(self, campaign: dict[str, Any], body: Any) -> Reply:
        problems = self._problems("/emailCampaigns/{campaignId}/sendTest", "post", body)
        if problems:
            return self.invalid(problems)
        self.tests_sent.append((str(campaign["id"]), list(body.get("emailTo", []))))
        campaign["testSent"] = True
        return Reply(204)

    def _status(self, campaign: dict[str, Any], body: Any) -> Reply:
        problems = self._problems("/emailCampaigns/{campaignId}/status", "put", body)
        if problems:
            return self.invalid(problems)
        campaign["status"] = body["status"]
        return Reply(204)
