"""What the stand-ins of the list managers' campaign APIs share (Buttondown, Brevo, Kit).

A stand-in is a small HTTP server on 127.0.0.1 that keeps campaigns as the tool would, checks
every request against the part of the tool's published API description kept in
``tests/fixtures/publish/<tool>/`` (an undocumented field, a wrong type or a missing required
field is answered with the tool's own error body, and kept in ``problems`` for the test to
see), and checks its own answers against the same description. ``faults`` plays what a real
API does on a bad day, one entry a request: ``429`` (answered with ``Retry-After: 0``,
nothing done), ``500`` or ``503`` (nothing done), ``"drop"`` (done, then the connection is
closed before any answer: a lost answer), ``"taken-500"`` (done, then a 500). The faults are
played in order: an entry ``("POST", fault)`` waits for the next request of that method, and
the entries after it wait behind it.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from jsonschema import Draft4Validator, Draft202012Validator

from tests.mailservers import LocalHttp

FIXTURES = Path(__file__).parent.parent / "fixtures" / "publish"


class Reply(NamedTuple):
    """An answer: its status, its JSON body (None: no body) and extra headers."""

    status: int
    body: object = None
    headers: dict[str, str] = {}  # noqa: RUF012 (a NamedTuple's default, never changed)


Fault = int | str | tuple[str, int | str]


class CampaignApi(LocalHttp):
    """A tool's campaign API on 127.0.0.1, served while in a ``with`` block."""

    tool = ""

    def __init__(self, key: str = "test-key") -> None:
        self.key = key
        #: The tool's campaigns by id, as the tool would answer them.
        self.campaigns: dict[str, dict[str, Any]] = {}
        #: Every request: method, path with its query, and the JSON body (None if none).
        self.requests: list[tuple[str, str, Any]] = []
        #: What the published description refuses in a request (a test expects none).
        self.problems: list[str] = []
        self.faults: list[Fault] = []
        #: Test sends: the campaign's id and the addresses.
        self.tests_sent: list[tuple[str, list[str]]] = []
        #: The numbers of the campaigns made, never used twice (a deleted one's included).
        self.numbers = itertools.count(1)
        self.lock = threading.Lock()
        self.start_server(self._handler())

    # What a tool's stand-in says -------------------------------------------------------

    def authorised(self, headers: Any) -> bool:
        """Whether the request carries the right key, the way the tool reads it."""
        raise NotImplementedError

    def refused_key(self) -> Reply:
        """The tool's 401."""
        raise NotImplementedError

    def invalid(self, problems: list[str]) -> Reply:
        """The tool's answer to a request its description refuses."""
        raise NotImplementedError

    def busy(self) -> Reply:
        """The tool's 429 (with ``Retry-After``)."""
        raise NotImplementedError

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Reply:
        """The answer to a request that passed the key check."""
        raise NotImplementedError

    def mark(self, campaign_id: str, status: str) -> None:
        """Change a campaign's status as an editor in the tool would (send it, schedule it)."""
        raise NotImplementedError

    # Shared ------------------------------------------------------------------------------

    def created(self) -> list[dict[str, Any]]:
        """The campaigns, in the order they were made."""
        return list(self.campaigns.values())

    def _fault(self, method: str) -> int | str | None:
        if not self.faults:
            return None
        fault = self.faults[0]
        if isinstance(fault, tuple):
            if fault[0] != method:
                return None  # it waits for its method; the faults after it wait behind it
            fault = fault[1]
        del self.faults[0]
        return fault

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def reply(self, answer: Reply) -> None:
                data = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                if answer.body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def serve(self, method: str) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                split = urlsplit(self.path)
                query = parse_qs(split.query, keep_blank_values=True)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    self.reply(api.invalid(["the body is not JSON"]))
                    return
                with api.lock:
                    api.requests.append((method, self.path, body))
                    if not api.authorised(self.headers):
                        self.reply(api.refused_key())
                        return
                    fault = api._fault(method)
                    if fault == 429:
                        self.reply(api.busy())
                        return
                    if fault in (500, 503):
                        self.reply(Reply(int(fault), {"message": "unavailable"}))
                        return
                    answer = api.route(method, split.path, query, body)
                    if answer.status in (400, 422) and method != "GET":
                        api.problems.append(f"{method} {split.path}: {answer.body}")
                if fault == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if fault == "taken-500":
                    self.reply(Reply(500, {"message": "gateway"}))
                    return
                self.reply(answer)

            def do_GET(self) -> None:
                self.serve("GET")

            def do_POST(self) -> None:
                self.serve("POST")

            def do_PUT(self) -> None:
                self.serve("PUT")

            def do_PATCH(self) -> None:
                self.serve("PATCH")

            def do_DELETE(self) -> None:
                self.serve("DELETE")

        return Handler


def load(tool: str, name: str) -> dict[str, Any]:
    """A tool's API description kept in the fixtures."""
    data: dict[str, Any] = json.loads((FIXTURES / tool / name).read_text(encoding="utf-8"))
    return data


def openapi_problems(spec: dict[str, Any], schema: dict[str, Any], data: Any) -> list[str]:
    """What an OpenAPI 3.1 schema (JSON Schema 2020-12, ``#/components`` refs) refuses."""
    root = {**schema, "components": spec["components"]}
    return [_where(e) for e in Draft202012Validator(root).iter_errors(data)]


def swagger_problems(spec: dict[str, Any], schema: dict[str, Any], data: Any) -> list[str]:
    """What a Swagger 2.0 schema (JSON Schema draft 4, ``#/definitions`` refs) refuses."""
    root = {**schema, "definitions": spec["definitions"]}
    return [_where(e) for e in Draft4Validator(root).iter_errors(data)]


def nullable_to_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema: ``nullable: true`` becomes a null alternative."""
    if isinstance(node, list):
        return [nullable_to_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: nullable_to_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        if "$ref" in out:
            return {"anyOf": [{"$ref": out["$ref"]}, {"type": "null"}]}
        if "type" in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
    return out


def undocumented(schema: dict[str, Any], body: Any) -> list[str]:
    """The top-level fields of ``body`` that ``schema`` does not document."""
    if not isinstance(body, dict):
        return []
    documented = set(schema.get("properties", {}))
    return [f"undocumented field {name!r}" for name in body if name not in documented]


def query_problems(parameters: Iterable[dict[str, Any]], query: dict[str, list[str]]) -> list[str]:
    """What an operation's documented query parameters refuse (an unknown name, a bad value)."""
    documented = {p["name"]: p.get("schema", p) for p in parameters if p.get("in") == "query"}
    problems = []
    for name, values in query.items():
        if name not in documented:
            problems.append(f"undocumented query parameter {name!r}")
            continue
        schema = documented[name]
        items = schema.get("items", schema) if schema.get("type") == "array" else schema
        for value in values:
            if "enum" in items and value not in [str(e).lower() for e in items["enum"]] + [
                str(e) for e in items["enum"]
            ]:
                problems.append(f"{name}={value!r} is not one of {items['enum']}")
            if items.get("type") == "integer":
                if not value.lstrip("-").isdigit():
                    problems.append(f"{name}={value!r} is not an integer")
                elif "maximum" in items and int(value) > items["maximum"]:
                    problems.append(f"{name}={value} is over {items['maximum']}")
    return problems


def _where(error: Any) -> str:
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def check_answer(problems: list[str]) -> None:
    """A stand-in's own answer must match the description (a bug in the stand-in if not)."""
    if problems:
        raise AssertionError(f"the stand-in answered off its description: {problems[:3]}")
