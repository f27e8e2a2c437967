"""A bounded cache in front of any ClientRepository, for the token hot path.

Cached clients stay valid until a change watcher (change_watch.py) says otherwise: it learns of
every client change, made by this process, another one or SQL by hand, and drops the changed
client (or everything). So hot clients cost no storage round trip however many there are, and
no request ever waits for the watcher. While the watcher cannot follow the changes (a lost
connection, a failed read), the cache is suspended: every look reads the storage, so with the
storage down requests fail closed as they would without a cache. As a backstop, no entry is used
longer than `max_age_seconds` (between half of it and all of it, at random, so that entries read
together do not all expire together).

At most `max_entries` are kept, least recently used forgotten first, so neither the number
of registered clients nor the ids an attacker sends can grow it.
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from horus.domain.client import Client
from horus.ports.clients import ClientRepository

DEFAULT_MAX_AGE_SECONDS = 600.0
DEFAULT_MAX_ENTRIES = 20_000


class CachedClientRepository(ClientRepository):
    def __init__(
        self,
        inner: ClientRepository,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
    ) -> None:
        self._inner = inner
        self._max_age = max_age_seconds
        self._max_entries = max_entries
        self._clock = clock
        # client_id -> (used until, client or None for "no such client", read from the storage by the last look)
        self._entries: OrderedDict[str, tuple[float, Client | None, bool]] = OrderedDict()
        self._generation = 0
        self._suspended = True  # until a watcher follows the changes

    def invalidate(self, client_id: str | None = None) -> None:
        """A client changed (None: any may have): its next look reads the storage."""
        self._generation += 1  # a read under way when the change was seen must not store what it read
        if client_id is None:
            self._entries.clear()
        else:
            self._entries.pop(client_id, None)

    def suspend(self) -> None:
        """Changes cannot be followed: read every look from the storage until resume()."""
        self._suspended = True
        self.invalidate()

    @property
    def following(self) -> bool:
        """Whether a watcher follows the changes (otherwise every look reads the storage)."""
        return not self._suspended

    def resume(self) -> None:
        self._suspended = False
        self.invalidate()

    async def get(self, client_id: str, fresh: bool = False) -> Client | None:
        if self._suspended:
            return await self._inner.get(client_id, fresh)
        now = self._clock()
        entry = self._entries.get(client_id)
        if entry is not None and entry[0] > now:
            used_until, client, just_read = entry
            if not fresh:
                self._entries.move_to_end(client_id)
                if just_read:
                    self._entries[client_id] = (used_until, client, False)
                return client
            if just_read:
                # The look just before this one read the storage (a miss): it is the fresh look. So a refusal costs
                # one storage read whether or not the client was cached, and its time does not tell which.
                self._entries[client_id] = (used_until, client, False)
                return client
        generation = self._generation
        client = await self._inner.get(client_id, fresh)
        if generation == self._generation:
            spread = 0.5 + random.random() / 2  # noqa: S311 - spreading expiries, not a secret
            self._entries[client_id] = (now + self._max_age * spread, client, not fresh)
            self._entries.move_to_end(client_id)
            if len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return client

    async def add(self, client: Client) -> None:
        self.invalidate(client.client_id)
        await self._inner.add(client)

    async def update(self, client: Client) -> Client:
        self.invalidate(client.client_id)
        return await self._inner.update(client)

    async def remove(self, client_id: str) -> None:
        self.invalidate(client_id)
        await self._inner.remove(client_id)

    async def list_all(self) -> Sequence[Client]:
        return await self._inner.list_all()

    def __len__(self) -> int:
        return len(self._entries)
