"""A bounded cache in front of any ClientRepository, for the token hot path.

Cached clients stay valid while the storage's client revision stays the same: every write to
the clients table increases it in the same transaction (triggers, so SQL by hand counts too). The
revision is read at most once every `ttl_seconds`, by the first request after that time, so a
client disabled, deleted or given a new secret elsewhere is refused within `ttl_seconds` plus
one read, and hot clients cost no storage round trip however many there are. As a backstop
(a revision restored from a backup to the very number it had), no entry is used longer than
`max_age_seconds` (between half of it and all of it, at random, so that entries read together
do not all expire together): long, since each expiry is a storage read (10,000 round-robin clients re-read
every 60 s cost a tenth of a core here).
If the revision cannot be read, everything cached is dropped: with storage down, requests
fail closed as they would without a cache.

At most `max_entries` are kept, least recently used forgotten first, so neither the number
of registered clients nor the ids an attacker sends can grow it. `ttl_seconds` 0 turns the
cache off.
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from horus.domain.client import Client
from horus.ports.clients import ClientChanges, ClientRepository

DEFAULT_TTL_SECONDS = 2.0
DEFAULT_MAX_AGE_SECONDS = 600.0
DEFAULT_MAX_ENTRIES = 20_000


class CachedClientRepository(ClientRepository):
    def __init__(
        self,
        inner: ClientRepository,
        changes: ClientChanges,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
    ) -> None:
        self._inner = inner
        self._changes = changes
        self._ttl = ttl_seconds
        self._max_age = max_age_seconds
        self._max_entries = max_entries
        self._clock = clock
        # client_id -> (used until, generation, client or None for "no such client", read by the last look)
        self._entries: OrderedDict[str, tuple[float, int, Client | None, bool]] = OrderedDict()
        self._generation = 0
        self._revision: int | None = None
        self._next_check = float("-inf")

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, client_id: str, fresh: bool = False) -> Client | None:
        if self._ttl <= 0:
            return await self._inner.get(client_id, fresh)
        now = self._clock()
        if now >= self._next_check:
            await self._check_revision(now)
        entry = self._entries.get(client_id)
        if entry is not None and entry[1] == self._generation and entry[0] > now:
            used_until, generation, client, just_read = entry
            if not fresh:
                self._entries.move_to_end(client_id)
                if just_read:
                    self._entries[client_id] = (used_until, generation, client, False)
                return client
            if just_read:
                # The look just before this one read the storage (a miss): it is the fresh look. So a refusal costs
                # one storage read whether or not the client was cached, and its time does not tell which.
                self._entries[client_id] = (used_until, generation, client, False)
                return client
        generation = self._generation  # as of before the read: a change seen meanwhile outdates this entry
        client = await self._inner.get(client_id, fresh)
        # Between half the max age and all of it, at random: entries read together (a warm-up, the reload after
        # a change) would otherwise all expire together, and every request would read storage for a while.
        spread = 0.5 + random.random() / 2  # noqa: S311 - spreading expiries, not a secret
        self._entries[client_id] = (now + self._max_age * spread, generation, client, not fresh)
        self._entries.move_to_end(client_id)
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return client

    async def _check_revision(self, now: float) -> None:
        self._next_check = now + self._ttl  # first: requests arriving during the read do not read it again
        try:
            revision: int | None = await self._changes.client_revision()
        except Exception:
            revision = None
        except BaseException:  # cancelled mid-read: the next request checks instead of waiting a whole TTL
            self._next_check = float("-inf")
            raise
        if revision is None or revision != self._revision:
            self._revision = revision
            self._generation += 1
            self._entries.clear()

    async def add(self, client: Client) -> None:
        self._entries.pop(client.client_id, None)
        await self._inner.add(client)

    async def update(self, client: Client) -> Client:
        self._entries.pop(client.client_id, None)
        return await self._inner.update(client)

    async def remove(self, client_id: str) -> None:
        self._entries.pop(client_id, None)
        await self._inner.remove(client_id)

    async def list_all(self) -> Sequence[Client]:
        return await self._inner.list_all()
