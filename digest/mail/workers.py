"""Worker processes: chunks of copies made (and sent) by an executor's workers.

``Workers(executor)`` wraps a process pool or a Dask ``distributed`` client's executor: it
submits each chunk with the copies it needs, sends those copies to every Dask worker once
(not with each task), and says how many chunks may be out at once. It is the only place that
knows Dask's internals.

A worker process keeps what it was sent (the copies, with the variants they rendered so far,
and the senders it made) in its ``WorkerCache``, so that every chunk after the first skips
rendering and reuses connections. That cache is the process's own, never shared between
processes: ``in_this_process()`` is the one object a worker keeps between tasks.
"""

from __future__ import annotations

import atexit
import os
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, Protocol, TypeVar

__all__ = ["Keyed", "WorkerCache", "Workers", "in_this_process"]

_T = TypeVar("_T")


class Keyed(Protocol):
    """What a worker keeps: known by a key naming what it is made of."""

    @property
    def key(self) -> str:
        """What it is made of, as a hash."""
        ...


class _Closing(Protocol):
    def close(self) -> None: ...


_K = TypeVar("_K", bound=Keyed)
_S = TypeVar("_S", bound=_Closing)


class WorkerCache:
    """What one worker process keeps between tasks: the last few copies, and its senders."""

    def __init__(self, kept: int = 4) -> None:
        """Keep the ``kept`` copies used last (each with the variants it rendered)."""
        self.kept = kept
        self._copies: OrderedDict[str, Any] = OrderedDict()
        self._senders: dict[str, Any] = {}

    def get(self, key: str) -> Any | None:
        """The copies known by ``key``, if this process has them."""
        return self._copies.get(key)

    def keep(self, copies: _K) -> _K:
        """The process's own copies like ``copies`` (the first it was sent), kept in use."""
        kept: _K = self._copies.setdefault(copies.key, copies)
        self._copies.move_to_end(copies.key)
        while len(self._copies) > self.kept:
            self._copies.popitem(last=False)
        return kept

    def sender(self, key: str, make: Callable[[], _S]) -> _S:
        """The sender known by ``key``, made once per process (closed when it exits)."""
        sender: _S | None = self._senders.get(key)
        if sender is None:
            sender = self._senders[key] = make()
            atexit.register(sender.close)
        return sender


# A worker process's own cache: the only state a process keeps between the tasks it is given.
_THIS_PROCESS = WorkerCache()


def in_this_process() -> WorkerCache:
    """The cache of the process this runs in (a worker's; the driver's with no executor)."""
    return _THIS_PROCESS


class Workers:
    """An executor's workers, given chunks to make (and send) with the copies they need."""

    def __init__(self, executor: Executor, count: int | None = None) -> None:
        """Wrap ``executor`` (``count``: its workers, by default the machine's cores)."""
        self.executor = executor
        self.count = max(1, count or os.cpu_count() or 2)
        self._dask = type(executor).__module__.startswith("distributed")
        # A Dask client's executor knows its client (``Client.get_executor``).
        self._client = getattr(executor, "_client", None) if self._dask else None
        self._scattered: dict[str, Any] = {}

    @property
    def in_flight(self) -> int:
        """How many chunks may be out at once: two per worker keeps every worker busy."""
        return 2 * self.count

    def submit(self, fn: Callable[..., _T], shared: Keyed, *args: Any) -> Future[_T]:
        """``fn(shared, *args)`` on a worker; ``shared`` goes to each Dask worker only once.

        Dask takes a task as pure by default and hashes its arguments (the whole copies and
        the chunk of readers) to name it: a third of the driver's time, for chunks that are
        never the same twice, so each task is marked impure.
        """
        if not self._dask:
            return self.executor.submit(fn, shared, *args)
        return self.executor.submit(fn, self._scatter(shared), *args, pure=False)

    def _scatter(self, shared: Keyed) -> Any:
        """``shared`` sent to every Dask worker once (a future the tasks name).

        Without a client, ``shared`` goes with each task as it does to a process pool.
        """
        if self._client is None:
            return shared
        future = self._scattered.get(shared.key)
        if future is None:
            future = self._scattered[shared.key] = self._client.scatter(
                shared, broadcast=True, hash=False
            )
        return future
