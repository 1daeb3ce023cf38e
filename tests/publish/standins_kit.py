"""A stand-in for Kit's broadcasts API (``/v4/broadcasts``), checked against its API v4
description.

Kit's description (``tests/fixtures/publish/kit/openapi-broadcasts.json``, OpenAPI 3.0 with
``nullable``, read here as JSON Schema) says what each request may hold, which fields it
requires (``PUT`` requires them all) and that only one filter group may be given; the
behaviour is the documented one: the key in an ``X-Kit-Api-Key`` header; ``POST`` answers 201
``{"broadcast"}``, a draft when ``send_at`` is null and scheduled otherwise; ``PUT`` answers
200; a broadcast that is sending or sent cannot be changed (422 ``Broadcast is already
sending.``); an unknown template is 422 ``Email template not found``; errors are
``{"errors": [...]}``; the list is newest first, paged by cursors; 429 with ``Retry-After``.
"""

from __future__ import annotations

import base64
import json
from typing import Any, ClassVar

from tests.publish.standin_api import (
    CampaignApi,
    Reply,
    check_answer,
    load,
    nullable_to_schema,
    openapi_problems,
    query_problems,
    undocumented,
)

SPEC = nullable_to_schema(load("kit", "openapi-broadcasts.json"))
# The one place the stand-in is looser than the description: Kit's PUT schema, generated from
# one example whose ``send_at`` was a time, types it a string only, while POST documents
# ``send_at: null`` as "save a draft"; a draft kept a draft by PUT sends null too.
SPEC["paths"]["/v4/broadcasts/{id}"]["put"]["requestBody"]["content"]["application/json"]["schema"][
    "properties"
]["send_at"]["type"] = ["string", "null"]


def _request_schema(path: str, method: str) -> dict[str, Any]:
    schema: dict[str, Any] = SPEC["paths"][path][method]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    return schema


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _cursor(broadcast_id: int) -> str:
    return base64.b64encode(json.dumps([broadcast_id]).encode()).decode()


class KitApi(CampaignApi):
    """Kit's ``/v4/broadcasts``: create, list, get and update."""

    tool = "kit"
    #: Broadcasts a page of ``GET /v4/broadcasts`` holds at most.
    page_size = 3
    #: The account's email templates.
    templates: ClassVar[dict[int, str]] = {2: "Classic", 6: "Text Only"}

    def authorised(self, headers: Any) -> bool:
        return bool(headers.get("X-Kit-Api-Key") == self.key)

    def refused_key(self) -> Reply:
        return Reply(401, {"errors": ["The access token is invalid"]})

    def busy(self) -> Reply:
        return Reply(429, {"errors": ["Rate limit exceeded"]}, {"Retry-After": "0"})

    def invalid(self, problems: list[str]) -> Reply:
        return Reply(422, {"errors": problems[:3]})

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Reply:
        parts = path.strip("/").split("/")
        if parts == ["v4", "broadcasts"] and method == "POST":
            return self._write(None, body)
        if parts == ["v4", "broadcasts"] and method == "GET":
            return self._list(query)
        if len(parts) == 3 and parts[:2] == ["v4", "broadcasts"]:
            broadcast = self.campaigns.get(parts[2])
            if broadcast is None:
                return Reply(404, {"errors": ["Not Found"]})
            if method == "GET":
                return self._answer(200, broadcast)
            if method == "PUT":
                return self._write(broadcast, body)
        return Reply(404, {"errors": ["Not Found"]})

    def mark(self, campaign_id: str, status: str) -> None:
        self.campaigns[campaign_id]["status"] = status

    def _answer(self, status: int, broadcast: dict[str, Any]) -> Reply:
        data = {"broadcast": broadcast}
        check_answer(openapi_problems(SPEC, {"properties": {"broadcast": _ref("Broadcast")}}, data))
        return Reply(status, data)

    def _write(self, broadcast: dict[str, Any] | None, body: Any) -> Reply:
        path, method = (
            ("/v4/broadcasts", "post") if broadcast is None else ("/v4/broadcasts/{id}", "put")
        )
        schema = _request_schema(path, method)
        problems = openapi_problems(SPEC, schema, body) + undocumented(schema, body)
        if problems:
            return self.invalid(problems)
        for group in body["subscriber_filter"]:
            if sum(bool(group.get(kind)) for kind in ("all", "any", "none")) > 1:
                message = (
                    "Only a single filter group is supported. Use one of `all`, `any`, or `none`."
                )
                return self.invalid([message])
        template = body.get("email_template_id", 2)
        if template not in self.templates:
            return self.invalid(["Email template not found"])
        if broadcast is not None and broadcast["status"] not in ("draft", "scheduled"):
            return self.invalid(["Broadcast is already sending."])
        if broadcast is None:
            number = 200 + next(self.numbers)
            broadcast = {
                "id": number,
                "publication_id": number - 100,
                "created_at": "2026-12-06T06:00:00Z",
                "public_url": None,
            }
            self.campaigns[str(number)] = broadcast
            status = 201
        else:
            status = 200
        broadcast.update(
            {
                "subject": body["subject"],
                "preview_text": body["preview_text"],
                "description": body["description"],
                "content": body["content"],
                "public": body["public"],
                "published_at": body["published_at"],
                "send_at": body.get("send_at"),
                "thumbnail_alt": body.get("thumbnail_alt"),
                "thumbnail_url": body.get("thumbnail_url"),
                "email_address": body.get("email_address") or "greetings@kit.dev",
                "email_template": {"id": template, "name": self.templates[template]},
                "subscriber_filter": body["subscriber_filter"],
                "status": "scheduled" if body.get("send_at") else "draft",
            }
        )
        return self._answer(status, broadcast)

    def _list(self, query: dict[str, list[str]]) -> Reply:
        problems = query_problems(SPEC["paths"]["/v4/broadcasts"]["get"]["parameters"], query)
        if problems:
            return self.invalid(problems)
        broadcasts = sorted(self.campaigns.values(), key=lambda b: -int(b["id"]))
        if query.get("after"):
            after = json.loads(base64.b64decode(query["after"][0]))[0]
            broadcasts = [b for b in broadcasts if int(b["id"]) < after]
        size = min(int(query.get("per_page", ["500"])[0]), self.page_size)
        page = broadcasts[:size]
        data = {
            "broadcasts": page,
            "pagination": {
                "has_previous_page": bool(query.get("after")),
                "has_next_page": len(broadcasts) > size,
                "start_cursor": _cursor(page[0]["id"]) if page else "",
                "end_cursor": _cursor(page[-1]["id"]) if page else "",
                "per_page": size,
            },
        }
        schema = SPEC["paths"]["/v4/broadcasts"]["get"]["responses"]["200"]["content"][
            "application/json"
        ]["schema"]
        check_answer(openapi_problems(SPEC, schema, data))
        return Reply(200, data)
