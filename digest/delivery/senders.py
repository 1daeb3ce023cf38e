"""Senders: hand prepared messages to a mail server or a provider's API, a batch at a time.

A sender takes a batch of ``Outgoing`` messages (an address and the complete RFC 5322 bytes
made for it) and gives back one ``Receipt`` per message, in order:

- ``sent``: accepted, with the provider's message id when it gives one;
- ``refused``: not accepted, with the provider's reason (a bad address, a suppressed one);
- ``unknown``: handed over, but the answer never came (the connection was lost after the
  message was sent): it may have been delivered, so it is not sent again on its own;
- ``deferred``: never handed over (the provider was unreachable or kept throttling): safe to
  send later.

``send`` does not raise for what happens to messages: when the sender cannot work at all (a
refused login or API key) the messages it has not handed over are deferred with the reason,
and the receipts of those it has are kept, so the ledger never forgets a message that went
out. Throttled and failed requests are retried with exponential backoff and jitter;
``Throttle`` keeps the pace under a rate.

The providers: SMTP (``digest.delivery.smtp``), Amazon SES v2, Postmark and Resend (one
module each beside it; ``digest.delivery.providers``, where
``make_sender`` picks one from ``DeliverySettings``).
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar, runtime_checkable

from digest.errors import SendError

__all__ = [
    "Outgoing",
    "PackedReceipts",
    "Pooled",
    "Receipt",
    "Sender",
    "Throttle",
    "receipts_for",
    "retry_delays",
    "until_deferred",
]


State = Literal["sent", "refused", "unknown", "deferred"]
Item = TypeVar("Item")
Lane = TypeVar("Lane")


_Self = TypeVar("_Self", bound="Closing")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message on its way: the envelope recipient and the complete message bytes.

    ``data`` ends its lines with CRLF, as every message digest writes does (``as_bytes``,
    ``Mailing.message_bytes``, ``send_eml``'s copies); SMTP carries it as it is.
    """

    address: str
    data: bytes
    #: The subject variant this copy carries ("" when there is one subject).
    variant: str = ""


@dataclass(frozen=True, slots=True)
class Receipt:
    """What became of one message: its state and the provider's id or reason."""

    address: str
    state: State
    #: The provider's message id when sent; the reason when refused, unknown or deferred.
    detail: str = ""
    variant: str = ""
    #: For a deferral: whether the sender cannot go on (the server or the provider is down,
    #: the login refused), which stops the send; a recipient's own temporary failure (an SMTP
    #: 4xx to RCPT) defers that recipient alone.
    stops: bool = True


class PackedReceipts:
    """A chunk's receipts without their addresses, in order: little to carry between processes.

    A worker returns these for the chunk it was given; the driver, which knows the chunk's
    addresses, unpacks them. Pickling a ``Receipt`` per reader cost the driver more than a
    microsecond each; these are plain tuples.
    """

    __slots__ = ("rows",)

    def __init__(self, receipts: Sequence[Receipt]) -> None:
        """Pack ``receipts`` (their addresses are left behind)."""
        self.rows = [(r.state, r.detail, r.variant, r.stops) for r in receipts]

    def __getstate__(self) -> list[tuple[State, str, str, bool]]:
        """The rows alone."""
        return self.rows

    def __setstate__(self, rows: list[tuple[State, str, str, bool]]) -> None:
        """Restore the rows."""
        self.rows = rows

    def unpack(self, addresses: Sequence[str]) -> list[Receipt]:
        """The receipts again, for the chunk's ``addresses`` in the order it was sent."""
        if len(addresses) != len(self.rows):
            raise SendError(f"{len(self.rows)} receipts came back for {len(addresses)} messages")
        return [Receipt(a, *row) for a, row in zip(addresses, self.rows, strict=True)]


@runtime_checkable
class Sender(Protocol):
    """Anything that delivers batches of messages and says what became of each."""

    #: The most messages one call of ``send`` takes (the provider's batch limit).
    batch_size: int

    def send(self, batch: Sequence[Outgoing]) -> list[Receipt]:
        """Deliver ``batch``: one receipt per message, in the same order."""
        ...

    def close(self) -> None:
        """Close connections; the sender may not be used afterwards."""
        ...


class Closing:
    """``with`` support for senders: ``close()`` at the end of the block."""

    def close(self) -> None:
        """Close connections."""

    def __enter__(self: _Self) -> _Self:
        """The sender itself."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the sender."""
        self.close()


class Throttle:
    """At most ``rate`` messages a second, shared by the threads of one sender."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """A pace of ``rate`` messages a second (0: no limit)."""
        self.interval = 1 / rate if rate else 0.0
        self.clock, self.sleep = clock, sleep
        self.next = 0.0
        self.lock = threading.Lock()

    def wait(self, count: int = 1) -> None:
        """Sleep until ``count`` more messages may go out."""
        if not self.interval:
            return
        with self.lock:
            now = self.clock()
            start = max(now, self.next)
            self.next = start + count * self.interval
        if start > now:
            self.sleep(start - now)


def receipts_for(messages: Sequence[Outgoing], state: State, detail: str) -> list[Receipt]:
    """The same receipt for each of ``messages`` (a whole batch refused, deferred, unknown)."""
    return [Receipt(m.address, state, detail, m.variant) for m in messages]


def until_deferred(
    items: Sequence[Item],
    size: int,
    send: Callable[[Sequence[Item]], list[Receipt]],
    defer: Callable[[Sequence[Item], str], list[Receipt]],
) -> list[Receipt]:
    """``send`` the items ``size`` at a time; once a receipt is deferred, ``defer`` the rest.

    A deferral means the provider stopped answering: nothing more is handed over on this run,
    and what went out before keeps its receipt.
    """
    receipts: list[Receipt] = []
    for start in range(0, len(items), size):
        done = send(items[start : start + size])
        receipts += done
        deferred = next((r for r in done if r.state == "deferred" and r.stops), None)
        if deferred is not None:
            receipts += defer(items[start + size :], deferred.detail)
            break
    return receipts


class Pooled(Closing):
    """Work on a batch spread over up to ``connections`` threads, paced by one throttle."""

    batch_size = 100

    def __init__(self, connections: int = 1, rate: float = 0) -> None:
        """Up to ``connections`` threads at once, ``rate`` messages a second in all."""
        self.connections = connections
        self.throttle = Throttle(rate)
        self._pool: ThreadPoolExecutor | None = None

    def _map(
        self, work: Callable[[Sequence[Outgoing]], list[Receipt]], runs: list[Sequence[Outgoing]]
    ) -> list[Receipt]:
        """``work`` on each run, on the threads when there are several; receipts in order."""
        if len(runs) <= 1:
            return [r for run in runs for r in work(run)]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.connections, thread_name_prefix="digest-send")
        return [r for part in self._pool.map(work, runs) for r in part]

    def _each(
        self,
        batch: Sequence[Outgoing],
        one: Callable[[Lane, Outgoing], Receipt],
        lane: Callable[[], AbstractContextManager[Lane]],
    ) -> list[Receipt]:
        """Each message of ``batch`` through ``one`` on up to ``connections`` lanes, in order.

        Each lane takes the next message as it finishes one: fixed shares made a batch wait
        for its slowest share, and here a lane is idle only for the last message. A lane stops
        at a deferral that stops the send (or a ``SendError``, which defers its message); the
        messages no lane took are deferred with that reason.
        """
        receipts: list[Receipt | None] = [None] * len(batch)
        taken = itertools.count()  # its next() is one step under the GIL: no lock needed

        def run(_: int = 0) -> None:
            with lane() as state:
                while (index := next(taken)) < len(batch):
                    message = batch[index]
                    try:
                        receipt = one(state, message)
                    except SendError as error:
                        receipt = Receipt(message.address, "deferred", str(error), message.variant)
                    receipts[index] = receipt
                    if receipt.state == "deferred" and receipt.stops:
                        return

        lanes = min(self.connections, len(batch))
        if lanes <= 1:
            run()
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.connections, thread_name_prefix="digest-send")
            list(self._pool.map(run, range(lanes)))
        stopped = [r.detail for r in receipts if r and r.state == "deferred" and r.stops]
        why = stopped[0] if stopped else "not handed over"
        return [
            receipt or Receipt(message.address, "deferred", why, message.variant)
            for receipt, message in zip(receipts, batch, strict=True)
        ]

    def close(self) -> None:
        """Stop the threads."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def retry_delays(retries: int, backoff: float) -> list[float]:
    """The waits before each retry: doubling from ``backoff``, with up to 25 % jitter."""
    return [backoff * 2**n * (1 + random.random() / 4) for n in range(retries)]
