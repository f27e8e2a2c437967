"""Client authentication: the one place that decides whether a clientId and secret are good.

Unknown client, wrong secret and disabled client all fail the same way and cost the same:
the secret is always verified (against a dummy when there is no usable client), and every
refusal takes one fresh look at the storage, whether or not the client was cached.
"""

from __future__ import annotations

from horus.domain.client import Client, is_registrable_client_id
from horus.domain.client_secret import has_generated_prefix, is_well_formed_generated_secret
from horus.domain.errors import InvalidClient
from horus.domain.throttling import ThrottlePolicy, throttle_keys
from horus.ports.clients import ClientRepository
from horus.ports.hashing import SecretHasher
from horus.ports.throttling import Admission


class ClientAuthenticator:
    def __init__(
        self, clients: ClientRepository, hasher: SecretHasher, admission: Admission, policy: ThrottlePolicy
    ) -> None:
        self._clients = clients
        self._hasher = hasher
        self._admission = admission
        self._policy = policy

    async def authenticate(self, client_id: str, secret: str, address: str | None = None) -> Client:
        """`address` is the caller's network address, for per-address throttling (None: not counted)."""
        async with self._admission.attempt(throttle_keys(self._policy, client_id, address)) as attempt:
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
            # A refusal is decided on what the storage holds now, not on a cached copy: a client whose secret was
            # just rotated, or who was just enabled, is not refused from a stale cache.
            current = await self._clients.get(client_id, fresh=True)
            if current != client:
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
