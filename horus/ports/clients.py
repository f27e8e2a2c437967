"""Where clients are kept."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from horus.domain.client import Client


class ClientRepository(Protocol):
    """Adapters raise the domain's StorageUnavailable, ClientAlreadyExists, ClientNotFound and
    ClientChangedConcurrently, never driver errors."""

    async def get(self, client_id: str, fresh: bool = False) -> Client | None:
        """`fresh` asks past any cache, for a second look before a refusal."""
        ...

    async def add(self, client: Client) -> None: ...

    async def update(self, client: Client) -> Client:
        """Stores `client` if the stored one is still at `client.version`, as the next version, and returns it.

        Raises ClientChangedConcurrently when another write came first (the stored version moved on),
        so that no change overwrites one it never saw.
        """
        ...

    async def remove(self, client_id: str) -> None: ...

    async def list_all(self) -> Sequence[Client]: ...


class ClientChanges(Protocol):
    async def client_revision(self) -> int:
        """A number that changes whenever any process adds, changes or removes a client."""
        ...
