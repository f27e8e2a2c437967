"""Following what other processes change, in the background, so that no request waits for it.

Two things change elsewhere: clients (the CLI, another instance, SQL by hand), which the client
cache must drop; and throttling failures, which processes sharing a database tell one another
so that a key that failed in one is hot in all (SharedAdmission).

- PostgreSQL pushes both (LISTEN/NOTIFY, triggers of migration 0010): a change reaches every
  instance as soon as it commits. The client revision is read every `reconcile_seconds` as well,
  a safety net for a notification lost in a way the listening connection did not notice.
- SQLite (and memory) cannot push: the client revision, and the feed of failures that the
  workers of `--workers N` write, are read every `interval_seconds`.

While the changes cannot be followed (the listening connection is lost, a read fails), the client
cache is suspended, so requests read the storage and fail closed if it is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from horus.adapters.storage.client_cache import CachedClientRepository
from horus.ports.clients import ClientChanges

LOG = logging.getLogger("horus.storage")
FailureHeard = Callable[[str, int, int], None]
"""(key, window number, failures in that window) for the shared admission."""


class FailureFeed(Protocol):
    async def failures_since(self, last_id: int) -> tuple[Sequence[tuple[str, int, int]], int]:
        """The failures recorded after `last_id` (key, window, failures in it), and the id to ask after next."""
        ...


class PolledChanges:
    """SQLite and memory: the client revision (and the failure feed) read every `interval_seconds`."""

    def __init__(
        self,
        changes: ClientChanges,
        cache: CachedClientRepository | None,
        interval_seconds: float,
        failures: FailureFeed | None = None,
        heard: FailureHeard | None = None,
    ) -> None:
        self._changes = changes
        self._cache = cache
        self._interval = interval_seconds
        self._failures = failures
        self._heard = heard

    async def run(self) -> None:
        revision: int | None = None
        last_failure = 0
        following = False
        while True:
            try:
                current = await self._changes.client_revision()
                if self._failures is not None and self._heard is not None:
                    failures, last_failure = await self._failures.failures_since(last_failure)
                    for key, window, count in failures:
                        self._heard(key, window, count)
            except Exception:
                if following:
                    LOG.warning("client changes cannot be read: the client cache is off until they can")
                    following = False
                    if self._cache is not None:
                        self._cache.suspend()
                revision = None
            else:
                if self._cache is not None:
                    if not following:
                        self._cache.resume()
                    elif current != revision:
                        self._cache.invalidate()
                following = True
                revision = current
            await asyncio.sleep(self._interval)


class Notifications(Protocol):
    """PostgreSQL's LISTEN: handlers get each notification's payload until the connection is lost."""

    def listening(
        self, handlers: Mapping[str, Callable[[str], None]]
    ) -> contextlib.AbstractAsyncContextManager[asyncio.Event]: ...


CLIENTS_CHANNEL = "horus_clients"
FAILURES_CHANNEL = "horus_failures"


class PushedChanges:
    """PostgreSQL: client changes and failures arrive as notifications; the revision is checked now and then."""

    def __init__(
        self,
        notifications: Notifications,
        changes: ClientChanges,
        cache: CachedClientRepository | None,
        heard: FailureHeard | None,
        reconcile_seconds: float = 10.0,
        retry_seconds: float = 1.0,
    ) -> None:
        self._notifications = notifications
        self._changes = changes
        self._cache = cache
        self._heard = heard
        self._reconcile = reconcile_seconds
        self._retry = retry_seconds

    def _client_changed(self, payload: str) -> None:
        if self._cache is not None:
            self._cache.invalidate(payload or None)  # an empty payload: the table was truncated

    def _failure_recorded(self, payload: str) -> None:
        window, failures, key = payload.split(" ", 2)
        if self._heard is not None:
            self._heard(key, int(window), int(failures))

    async def run(self) -> None:
        handlers = {CLIENTS_CHANNEL: self._client_changed, FAILURES_CHANNEL: self._failure_recorded}
        while True:
            try:
                async with self._notifications.listening(handlers) as lost:
                    revision = await self._changes.client_revision()
                    if self._cache is not None:
                        self._cache.resume()  # what changed before the listening started is dropped here
                    LOG.info("following client changes and throttling failures through notifications")
                    while not lost.is_set():
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(lost.wait(), self._reconcile)
                        current = await self._changes.client_revision()
                        if current != revision and self._cache is not None:
                            self._cache.invalidate()
                        revision = current
            except Exception as error:
                LOG.warning("client changes cannot be followed (%s): the client cache is off until they can", error)
            if self._cache is not None:
                self._cache.suspend()
            await asyncio.sleep(self._retry)
