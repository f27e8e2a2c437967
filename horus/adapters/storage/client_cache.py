"""A bounded, short-lived cache in front of any ClientRepository, for the token hot path.

Every entry (unknown ids included) lives at most `ttl_seconds`, so a client disabled,
deleted or given a new secret elsewhere (the CLI, another instance) is refused within that
bound. At most `max_entries` are kept, least recently used forgotten first, so neither the
number of registered clients nor the ids an attacker sends can grow it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from horus.domain.client import Client
from horus.ports.clients import ClientRepository

DEFAULT_TTL_SECONDS = 2.0
DEFAULT_MAX_ENTRIES = 20_000


class CachedClientRepository(ClientRepository):
    def __init__(
        self,
        inner: ClientRepository,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Client | None]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, client_id: str, fresh: bool = False) -> Client | None:
        now = self._clock()
        entry = self._entries.get(client_id)
        if entry is not None and entry[0] > now and not fresh:
            self._entries.move_to_end(client_id)
            return entry[1]
        client = await self._inner.get(client_id, fresh)
        self._entries[client_id] = (now + self._ttl, client)
        self._entries.move_to_end(client_id)
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return client

    async def add(self, client: Client) -> None:
        self._entries.pop(client.client_id, None)
        await self._inner.add(client)

    async def update(self, client: Client) -> None:
        self._entries.pop(client.client_id, None)
        await self._inner.update(client)

    async def remove(self, client_id: str) -> None:
        self._entries.pop(client_id, None)
        await self._inner.remove(client_id)

    async def list_all(self) -> Sequence[Client]:
        return await self._inner.list_all()
