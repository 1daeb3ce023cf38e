"""Amazon SES v2 ``SendEmail`` with the raw message, through boto3."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from digest.delivery.senders import (
    Outgoing,
    Pooled,
    Receipt,
    State,
    retry_delays,
)
from digest.errors import SendError
from digest.mail.mime import envelope_sender

if TYPE_CHECKING:
    from digest.delivery.settings import (
        DeliverySettings,
        SesSettings,
    )

__all__ = ["SesSender"]


#: SES answers that concern the account, not the recipient: nothing is sent on this run.
_SES_ACCOUNT_ERRORS = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "AccountSuspendedException",
        "SendingPausedException",
    }
)


#: SES answers that refuse the call for now (the message was not taken): wait and retry.
_SES_THROTTLED = frozenset(
    {"TooManyRequestsException", "Throttling", "ThrottlingException", "LimitExceededException"}
)


class SesSender(Pooled):
    """Amazon SES v2 ``SendEmail`` with the raw message, several calls at once."""

    batch_size = 50

    def __init__(self, settings: SesSettings, delivery: DeliverySettings) -> None:
        """A client for ``settings.region`` (or ``endpoint_url``), made when first needed."""
        super().__init__(delivery.connections, delivery.rate)
        self.delivery = delivery
        self.settings = settings
        self._local = threading.local()

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:
                raise SendError("SES needs boto3: pip install 'newsletter-digest[ses]'") from None
            # Throttling is retried here, with our backoff and the ledger's view of it.
            config = Config(retries={"total_max_attempts": 1}, max_pool_connections=2)
            client = boto3.client(
                "sesv2",
                region_name=self.settings.region,
                endpoint_url=self.settings.endpoint_url,
                config=config,
            )
            self._local.client = client
        return client

    def _one(self, message: Outgoing) -> Receipt:
        """One ``SendEmail`` call, retried only when SES cannot have taken the message.

        SES v2's ``SendEmail`` has no idempotency token, so only a refusal that SES documents
        as "not sent" (throttling, a sending quota) or a connection that never opened is tried
        again; a 5xx or a lost answer may come after SES took the message: unknown.
        """
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
        )

        request: dict[str, Any] = {
            "FromEmailAddress": envelope_sender(message.data),
            "Destination": {"ToAddresses": [message.address]},
            "Content": {"Raw": {"Data": message.data}},
        }
        if self.settings.configuration_set:
            request["ConfigurationSetName"] = self.settings.configuration_set
        self.throttle.wait()
        delays = retry_delays(self.delivery.retries, self.delivery.backoff)
        for delay in [*delays, None]:
            try:
                answer = self._client().send_email(**request)
                return Receipt(message.address, "sent", answer["MessageId"], message.variant)
            except NoCredentialsError:
                raise SendError("SES: no AWS credentials (environment, profile or role)") from None
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                text = f"{code}: {error.response.get('Error', {}).get('Message', '')}"
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                if code in _SES_ACCOUNT_ERRORS:
                    raise SendError(f"SES: {text}") from None
                if code not in _SES_THROTTLED:
                    state: State = "unknown" if status >= 500 else "refused"
                    return Receipt(message.address, state, f"SES: {text}", message.variant)
                reason = text
            except (EndpointConnectionError, ConnectTimeoutError) as error:
                reason = str(error)  # the request never reached SES
            except BotoCoreError as error:
                # A read timeout, a connection closed mid-answer: SES may have the message.
                return Receipt(message.address, "unknown", f"SES: {error}", message.variant)
            if delay is None:
                return Receipt(message.address, "deferred", f"SES: {reason}", message.variant)
            time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def send(self, batch: Sequence[Outgoing]) -> list[Receipt]:
        """Send each message with its own call, ``connections`` calls at a time."""
        return self._each(batch, lambda _, message: self._one(message), nullcontext)
