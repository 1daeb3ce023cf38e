"""The shared base of the list managers (Mailchimp, listmonk...): HTTP, retries, errors.

A list manager is a subclass of ``Publisher`` that says how it is called (``name``, ``tool``),
which merge language its editions are written in (``language``, from ``digest.publish.merge``),
how it authenticates (``auth_headers``), what its error bodies say (``error_text``) and the six
calls a campaign needs: ``create``, ``update``, ``status``, ``find`` (by the marker, after a lost
answer), ``test_send`` and ``schedule``, each a few ``request`` calls. This base does the
connection, the retries and the rules of what a lost answer means (``Publisher.request``).
``docs/adding-a-list-manager.md`` walks through one.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import SplitResult, urlencode, urlsplit

from digest.delivery.http import Answer
from digest.delivery.senders import retry_delays
from digest.environment import secret_variable
from digest.errors import ConfigError, PublishError
from digest.settings import ToolSettings

if TYPE_CHECKING:
    from digest.publish.merge import MergeLanguage

__all__ = [
    "Campaign",
    "CampaignStatus",
    "Content",
    "LostAnswer",
    "NotFound",
    "Publisher",
    "ToolSettings",
    "retry_wait",
]


#: A campaign's state in any tool: a draft may be changed; the others are left as they are.
CampaignStatus = Literal["draft", "scheduled", "sending", "sent", "other"]


@dataclass(frozen=True)
class Content:
    """An edition as a list manager takes it: its parts written in the tool's merge tags."""

    #: The subject line (merge-like text in it escaped).
    subject: str
    #: The inbox preview line.
    preheader: str
    html: str
    text: str
    #: The campaign's own name in the tool, which carries ``marker``.
    title: str
    #: What finds the campaign again after a lost answer: the edition key, in the title.
    marker: str
    from_name: str
    reply_to: str


@dataclass(frozen=True)
class Campaign:
    """A campaign in a list manager: its id, its state and where an editor opens it."""

    id: str
    status: CampaignStatus
    #: The campaign's page in the tool (for an editor), when the tool gives one.
    url: str | None = None

    @property
    def editable(self) -> bool:
        """Whether it is still a draft: changed by a rerun, never once scheduled or sent."""
        return self.status == "draft"


class LostAnswer(PublishError):
    """A request that may have been taken, whose answer never came (find it by its marker)."""


class NotFound(PublishError):
    """The tool has no such thing (404): a campaign deleted in the tool, say."""


_IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD"})


class Publisher:
    """A list manager's API: a campaign created, updated, found, tested and scheduled."""

    #: The tool's name as people write it (``Mailchimp``): the start of every error.
    name: ClassVar[str] = "List manager"
    #: The tool's name in ``--to`` and ``[publish.<tool>]`` (``mailchimp``).
    tool: ClassVar[str] = ""
    #: The environment variables that hold the keys (never a config key; never echoed).
    key_variables: ClassVar[tuple[str, ...]] = ()
    #: The API's base URL when the settings give none (None: the tool has to be told).
    default_base_url: ClassVar[str | None] = None

    def __init__(self, settings: ToolSettings, environ: Mapping[str, str] | None = None) -> None:
        """A publisher of ``settings``; its keys are read from ``environ`` when first needed."""
        self.settings = settings
        self.environ = environ
        self._keys: dict[str, str] | None = None

    @property
    def keys(self) -> dict[str, str]:
        """The keys by variable, read from the environment on first use (a dry run needs none)."""
        if self._keys is None:
            self._keys = {name: self.key(name, self.environ) for name in self.key_variables}
        return self._keys

    @property
    def base(self) -> SplitResult:
        """The API's base URL, split."""
        base = self.settings.base_url or self.base_url()
        split = urlsplit(base)
        if split.scheme not in ("http", "https") or not split.hostname:
            raise ConfigError(f"publish.{self.tool}.base_url: not an http(s) URL (got {base!r})")
        return split

    # What a subclass says -------------------------------------------------------------

    @property
    def language(self) -> MergeLanguage:
        """The merge tags the tool fills per reader (``digest.publish.merge``)."""
        raise NotImplementedError

    def base_url(self) -> str:
        """The API's base URL when the settings give none (Mailchimp reads it off the key)."""
        if self.default_base_url is None:
            raise ConfigError(f"publish.{self.tool}.base_url: needed (the tool's API address)")
        return self.default_base_url

    def auth_headers(self) -> dict[str, str]:
        """The headers that authenticate every request."""
        raise NotImplementedError

    def error_text(self, answer: Answer) -> str:
        """The tool's own message in an error answer (its JSON, else the body's start)."""
        data = answer.json()
        if isinstance(data, dict):
            for key in ("detail", "message", "error", "title"):
                if isinstance(data.get(key), str) and data[key]:
                    return str(data[key])
        return answer.body[:300].decode("utf-8", "replace").strip()

    def create(self, content: Content) -> Campaign:
        """Create a draft campaign of ``content`` for the settings' audience (list, segment)."""
        raise NotImplementedError

    def update(self, campaign: Campaign, content: Content) -> Campaign:
        """Replace a draft's subject and content with ``content``."""
        raise NotImplementedError

    def status(self, campaign_id: str) -> Campaign | None:
        """The campaign as the tool has it now; None when the tool has no such campaign."""
        raise NotImplementedError

    def find(self, marker: str) -> Campaign | None:
        """The campaign whose title carries ``marker`` (after an answer was lost), if any."""
        raise NotImplementedError

    def test_send(self, campaign: Campaign, addresses: list[str]) -> None:
        """Send the campaign to ``addresses`` as a test (the tool fills its tags for them)."""
        raise NotImplementedError

    def schedule(self, campaign: Campaign, at: datetime) -> Campaign:
        """Schedule the campaign to go out at ``at`` (aware); the campaign as scheduled."""
        raise NotImplementedError

    # What the base does -----------------------------------------------------------------

    def key(self, variable: str, environ: Mapping[str, str] | None = None) -> str:
        """The secret in the environment variable ``variable``; a ``PublishError`` if unset."""
        value = secret_variable(variable, environ)
        if not value:
            raise PublishError(f"{self.name}: set the environment variable {variable}")
        return value

    def fail(self, message: str, error: type[PublishError] = PublishError) -> PublishError:
        """An error of one line that starts with the tool's name and never holds a key."""
        for secret in (self._keys or {}).values():
            if len(secret) >= 4:
                message = message.replace(secret, "***")
        line = " ".join(f"{self.name}: {message}".split())
        return error(line)

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        query: Mapping[str, Any] | None = None,
        repeatable: bool | None = None,
    ) -> Any:
        """One API call; its JSON answer (None for an empty body), or a ``PublishError``.

        Retried only while no earlier try may have been taken by the tool:

        - no connection, or one lost before the whole request was written: retried;
        - 429: not taken, retried after ``Retry-After`` (at most 60 s) or the backoff;
        - 5xx, or a connection lost after the request was written: a GET or PUT is retried
          (doing it twice does no harm); a POST may have been taken, so it is not, and
          ``LostAnswer`` says to look for it by its marker;
        - 401/403: the key was refused; another 4xx: the tool's own message.

        ``repeatable`` says whether doing the request twice does no harm (by default: GET,
        PUT and DELETE do, POST does not; a PATCH that sets fields may say so).
        """
        base = self.base
        url = base.path.rstrip("/") + path + (f"?{urlencode(query, doseq=True)}" if query else "")
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {**self.auth_headers(), "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        delays = retry_delays(self.settings.retries, self.settings.backoff)
        if repeatable is None:
            repeatable = method in _IDEMPOTENT
        for delay in [*delays, None]:
            try:
                answer = self._send(base, method, url, data, headers)
            except _Unwritten as error:
                reason = f"cannot reach {base.hostname}: {error}"
            else:
                if answer is None:
                    reason = f"{method} {path}: the connection was lost after the request was sent"
                    if not repeatable:
                        raise self.fail(reason + " (it may have been taken)", LostAnswer)
                elif 200 <= answer.status < 300:
                    return answer.json()
                elif answer.status in (401, 403):
                    raise self.fail(
                        f"the API key was refused ({answer.status}): {self.error_text(answer)}"
                    )
                elif answer.status >= 500:
                    reason = f"{method} {path}: {answer.status} {self.error_text(answer)}"
                    if not repeatable:
                        raise self.fail(reason + " (it may have been taken)", LostAnswer)
                elif answer.status != 429:
                    kind = NotFound if answer.status == 404 else PublishError
                    raise self.fail(
                        f"{method} {path}: {answer.status} {self.error_text(answer)}", kind
                    )
                else:
                    reason = f"{method} {path}: 429 {self.error_text(answer)}"
                    if delay is not None:
                        delay = retry_wait(answer.retry_after, delay)
            if delay is None:
                raise self.fail(reason + f" (after {len(delays) + 1} tries)")
            time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self, base: SplitResult, method: str, url: str, data: bytes | None, headers: dict[str, str]
    ) -> Answer | None:
        """One request on a fresh connection: its answer, or None when lost after writing it."""
        host, port = base.hostname or "", base.port
        connection: http.client.HTTPConnection
        if base.scheme == "https":
            connection = http.client.HTTPSConnection(host, port, timeout=60)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=60)
        written = False
        try:
            connection.putrequest(method, url)
            for name, value in {**headers, "Content-Length": str(len(data or b""))}.items():
                connection.putheader(name, value)
            connection.endheaders()
            if data:
                connection.send(data)
            written = True
            response = connection.getresponse()
            return Answer(response.status, response.read(), response.getheader("Retry-After"))
        except (OSError, http.client.HTTPException) as error:
            if written:
                return None
            raise _Unwritten(str(error) or type(error).__name__) from error
        finally:
            connection.close()


#: The longest ``Retry-After`` waited for, in seconds (a longer one waits this long).
LONGEST_WAIT = 60.0


def retry_wait(retry_after: str | None, backoff: float) -> float:
    """How long to wait before a retry: the tool's ``Retry-After`` (seconds), else the backoff.

    Never less than the backoff, never more than ``LONGEST_WAIT``; a ``Retry-After`` that is
    not a number of seconds (an HTTP date) leaves the backoff.
    """
    after = (retry_after or "").strip()
    if not after.isdigit():
        return backoff
    return max(backoff, min(float(after), LONGEST_WAIT))


class _Unwritten(Exception):
    """A request that failed before its last byte was written: the tool never read it."""
