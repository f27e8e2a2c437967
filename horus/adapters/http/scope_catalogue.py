"""The scopes the metadata document advertises (RFC 8414 scopes_supported)."""

from __future__ import annotations

import time

from horus.domain.administration import ClientAdministration

SCOPES_CACHE_SECONDS = 5.0


class ScopeCatalogue:
    """The union of every client's scopes. Listing all clients is not for every request, so it is kept 5 s."""

    def __init__(self, administration: ClientAdministration, ttl_seconds: float = SCOPES_CACHE_SECONDS) -> None:
        self._administration = administration
        self._ttl = ttl_seconds
        self._scopes: list[str] = []
        self._loaded_at = -float("inf")

    async def scopes(self) -> list[str]:
        now = time.monotonic()
        if now - self._loaded_at >= self._ttl:
            clients = await self._administration.list_all()
            self._scopes = sorted({scope for client in clients for scope in client.scopes})
            self._loaded_at = now
        return self._scopes
