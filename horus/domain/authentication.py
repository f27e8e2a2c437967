"""Client authentication: the one place that decides whether a clientId and secret are good.

Unknown client, wrong secret and disabled client all fail the same way and take the
same time: the secret is always verified (against a dummy when the client is unknown),
and only then are the other conditions looked at.
"""

from __future__ import annotations

from datetime import UTC, datetime

from horus.domain.client import Client, is_registrable_client_id
from horus.domain.client_secret import has_generated_prefix, is_well_formed_generated_secret
from horus.domain.errors import InvalidClient
from horus.domain.throttling import FailureThrottle
from horus.ports.clients import ClientRepository
from horus.ports.hashing import SecretHasher


class ClientAuthenticator:
    def __init__(self, clients: ClientRepository, hasher: SecretHasher, throttle: FailureThrottle) -> None:
        self._clients = clients
        self._hasher = hasher
        self._throttle = throttle

    async def authenticate(self, client_id: str, secret: str, address: str | None = None) -> Client:
        """`address` is the caller's network address, for per-address throttling (None: not counted)."""
        async with self._throttle.attempt(client_id, address) as attempt:
            try:
                return await self._verify(client_id, secret)
            except InvalidClient:
                await attempt.failed()
                raise

    async def _verify(self, client_id: str, secret: str) -> Client:
        # Decided from the presented secret alone, so it reveals nothing about the client.
        if has_generated_prefix(secret) and not is_well_formed_generated_secret(secret):
            raise InvalidClient()
        # An id outside the registrable alphabet names no client: no need to ask the storage.
        if not is_registrable_client_id(client_id):
            await self._hasher.verify(client_id, secret, None)
            raise InvalidClient()
        client = await self._clients.get(client_id)
        accepted = await self._accepted(client, client_id, secret)
        if accepted is None:
            # Every refusal takes a second, uncached look (the same cost for unknown, wrong and disabled):
            # a client whose secret was just rotated or who was just enabled is not refused from a stale cache.
            current = await self._clients.get(client_id, fresh=True)
            if _changed(current, client):
                accepted = await self._accepted(current, client_id, secret)
        if accepted is None:
            raise InvalidClient()
        return accepted

    async def _accepted(self, client: Client | None, client_id: str, secret: str) -> Client | None:
        # A disabled client is verified against the dummy, like an unknown one: its right secret must not
        # answer faster (a remembered argon2id success would) and so confirm a guess.
        usable = client if client is not None and client.enabled else None
        verified = await self._hasher.verify(client_id, secret, usable.secret_hash if usable else None)
        return usable if verified else None


def _changed(current: Client | None, cached: Client | None) -> bool:
    """current != cached, compared field by field even when both are None (timing must not tell)."""
    if current is None or cached is None:
        return (current is None) != (cached is None) or _ABSENT != _ABSENT_TWIN
    return current != cached


def _absent_client() -> Client:
    """A client no one has; built anew each call, so that two of them are equal without sharing their fields."""
    when = datetime(2026, 1, 1, tzinfo=UTC)
    return Client(
        "".join(["absent", "-client"]), "", ("read", "write"), True, "".join(["hmac-sha256$", "0" * 64]), when, when
    )


# Two equal, distinct clients: comparing them costs what comparing a client with its fresh copy costs.
_ABSENT = _absent_client()
_ABSENT_TWIN = _absent_client()
