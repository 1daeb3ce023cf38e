"""A stand-in for listmonk's campaigns API (``/api/campaigns``), checked against its OpenAPI.

Every request is checked against ``tests/fixtures/publish/listmonk/openapi-campaigns.json``
(the campaign paths of listmonk's own ``docs/swagger/collections.yaml``, with what its API
page documents besides; see the README there); the behaviour is the documented one: HTTP
basic authentication (``api_user:token``); ``POST /api/campaigns`` makes a ``draft``; a
campaign changes only while it is a draft (or scheduled); only a draft can be scheduled;
answers are wrapped in ``{"data": …}`` and errors are ``{"message": …}``.
"""

from __future__ import annotations

import base64
import itertools
from typing import Any, ClassVar

from tests.publish.standin_api import (
    CampaignApi,
    Reply,
    check_answer,
    load,
    openapi_problems,
    query_problems,
)

SPEC = load("listmonk", "openapi-campaigns.json")
PATHS = SPEC["paths"]
DOCS = SPEC["x-digest-from-docs"]


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _campaign_fields() -> dict[str, Any]:
    """The fields of ``POST /api/campaigns``: the YAML's schema and what the API page adds."""
    schema = SPEC["components"]["schemas"]["CampaignRequest"]
    return {
        **schema,
        "properties": {**schema["properties"], **DOCS["properties"]},
        "additionalProperties": False,
    }


class ListmonkApi(CampaignApi):
    """listmonk's campaigns: create, update, read, find, test and schedule."""

    tool = "listmonk"
    user = "digest"
    #: The lists this server has.
    lists: ClassVar[dict[int, str]] = {1: "Weekly", 2: "Tangerang"}

    def __init__(self, key: str = "listmonk-token") -> None:
        super().__init__(key)
        self.ids = itertools.count(1)

    def authorised(self, headers: Any) -> bool:
        expected = base64.b64encode(f"{self.user}:{self.key}".encode()).decode()
        return bool(headers.get("Authorization") == f"Basic {expected}")

    def refused_key(self) -> Reply:
        return Reply(403, {"message": "Invalid API credentials"})

    def busy(self) -> Reply:
        return Reply(429, {"message": "Too many requests"}, {"Retry-After": "0"})

    def invalid(self, problems: list[str]) -> Reply:
        return Reply(400, {"message": "; ".join(problems[:3])})

    def missing(self) -> Reply:
        return Reply(404, {"message": "Campaign not found."})

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Reply:
        parts = path.removeprefix("/api").strip("/").split("/")
        if parts == ["campaigns"]:
            return self._create(body) if method == "POST" else self._list(query)
        if parts[0] != "campaigns" or len(parts) < 2 or not parts[1].isdigit():
            return self.missing()
        campaign = self.campaigns.get(parts[1])
        if campaign is None:
            return self.missing()
        where = "/".join(parts[2:])
        if where == "" and method == "GET":
            problems = query_problems(PATHS["/campaigns/{id}"]["get"]["parameters"], query)
            return self.invalid(problems) if problems else self._answer(campaign)
        if where == "" and method == "PUT":
            return self._update(campaign, body)
        if where == "status" and method == "PUT":
            return self._status(campaign, body)
        if where == "test" and method == "POST":
            return self._test(campaign, body)
        return self.missing()

    def mark(self, campaign_id: str, status: str) -> None:
        self.campaigns[campaign_id]["status"] = status

    def _answer(self, campaign: dict[str, Any]) -> Reply:
        check_answer(openapi_problems(SPEC, _ref("Campaign"), campaign))
        return Reply(200, {"data": campaign})

    def _problems(self, body: Any, required: list[str]) -> list[str]:
        problems = openapi_problems(SPEC, _campaign_fields(), body)
        if isinstance(body, dict):
            problems += [f"{name}: required" for name in required if name not in body]
            unknown = [n for n in body.get("lists") or [] if n not in self.lists]
            problems += [f"lists: no list {n}" for n in unknown]
        return problems

    def _create(self, body: Any) -> Reply:
        problems = self._problems(body, DOCS["required"])
        if problems:
            return self.invalid(problems)
        campaign_id = next(self.ids)
        campaign = {
            "id": campaign_id,
            "uuid": f"00000000-0000-4000-8000-{campaign_id:012d}",
            "created_at": "2026-12-06T06:00:00Z",
            "updated_at": "2026-12-06T06:00:00Z",
            "status": "draft",
            "type": body["type"],
            "name": body["name"],
            "subject": body["subject"],
            "from_email": body.get("from_email", "Listmonk <noreply@listmonk.example>"),
            "body": body["body"],
            "altbody": body.get("altbody"),
            "content_type": body["content_type"],
            "messenger": body.get("messenger", "email"),
            "tags": body.get("tags", []),
            "lists": [{"id": n, "name": self.lists[n]} for n in body["lists"]],
        }
        self.campaigns[str(campaign_id)] = campaign
        return self._answer(campaign)

    def _list(self, query: dict[str, list[str]]) -> Reply:
        problems = query_problems(PATHS["/campaigns"]["get"]["parameters"], query)
        if problems:
            return self.invalid(problems)
        found = list(self.campaigns.values())
        if "query" in query:
            words = query["query"][0].lower()
            found = [c for c in found if words in c["name"].lower() or words in c["subject"]]
        if query.get("order") == ["DESC"]:
            found.reverse()
        data = {"results": found, "query": "", "total": len(found), "per_page": 0, "page": 1}
        return Reply(200, {"data": data})

    def _update(self, campaign: dict[str, Any], body: Any) -> Reply:
        problems = self._problems(body, [])
        if problems:
            return self.invalid(problems)
        if campaign["status"] not in ("draft", "scheduled", "paused"):
            return Reply(400, {"message": "Cannot update a running or finished campaign."})
        for name, value in body.items():
            if name == "lists":
                campaign["lists"] = [{"id": n, "name": self.lists[n]} for n in value]
            elif name != "send_later":
                campaign[name] = value
        return self._answer(campaign)

    def _status(self, campaign: dict[str, Any], body: Any) -> Reply:
        schema = PATHS["/campaigns/{id}/status"]["put"]["requestBody"]["content"][
            "application/json"
        ]["schema"]
        problems = openapi_problems(SPEC, schema, body)
        if problems:
            return self.invalid(problems)
        if body.get("status") == "scheduled":
            if campaign["status"] != "draft":
                return Reply(400, {"message": "Only draft campaigns can be scheduled."})
            if not campaign.get("send_at"):
                return Reply(400, {"message": "Campaign needs a `send_at` date to be scheduled."})
        campaign["status"] = body["status"]
        return self._answer(campaign)

    def _test(self, campaign: dict[str, Any], body: Any) -> Reply:
        problems = self._problems(body, [*DOCS["required"], *DOCS["test-required"]])
        if problems:
            return self.invalid(problems)
        self.tests_sent.append((str(campaign["id"]), list(body["subscribers"])))
        return Reply(200, {"data": True})
