"""Client administration with fakes: what each change does, and that concurrent changes are never lost."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest

from horus.adapters.storage.memory import MemoryStorage
from horus.domain.administration import CHANGE_ATTEMPTS, ClientAdministration
from horus.domain.client import Client
from horus.domain.client_secret import is_well_formed_generated_secret
from horus.domain.errors import ClientAlreadyExists, ClientChangedConcurrently, ClientNotFound, InvalidClientData
from tests.fakes import T0, CountingRandomness, FixedClock, RecordingHasher


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def admin(clock: FixedClock) -> ClientAdministration:
    return ClientAdministration(MemoryStorage(), RecordingHasher(), clock, CountingRandomness())


async def test_create_generates_an_id_and_a_well_formed_secret_and_stores_only_its_hash(
    admin: ClientAdministration,
) -> None:
    created = await admin.create(name="Billing", scope="b a")
    assert created.secret is not None
    assert is_well_formed_generated_secret(created.secret)
    stored = await admin.get(created.client.client_id)
    assert (
        stored.name,
        stored.scopes,
        stored.enabled,
        stored.created_at,
        stored.updated_at,
    ) == ("Billing", ("a", "b"), True, T0, T0)
    assert "plain$" + created.secret == stored.secret_hash  # what the hasher made of it, nothing else
    assert 36 == len(created.client.client_id)


async def test_an_imported_secret_is_not_shown_again(admin: ClientAdministration) -> None:
    created = await admin.create(client_id="legacy", imported_secret="b3209806-42da-402d-92dc-ab2f3ef8608b")
    assert created.secret is None


@pytest.mark.parametrize("secret", ["", "x" * 1025, "line\nbreak", "horus_sk_pretend"])
async def test_unacceptable_imported_secrets_are_refused(admin: ClientAdministration, secret: str) -> None:
    with pytest.raises(InvalidClientData):
        await admin.create(client_id="legacy", imported_secret=secret)


async def test_duplicate_client_id_is_refused(admin: ClientAdministration) -> None:
    await admin.create(client_id="svc")
    with pytest.raises(ClientAlreadyExists):
        await admin.create(client_id="svc")


@pytest.mark.parametrize("action", ["get", "disable", "enable", "rotate", "delete", "scope"])
async def test_unknown_client_ids_are_reported(admin: ClientAdministration, action: str) -> None:
    calls = {
        "get": lambda: admin.get("nobody"),
        "disable": lambda: admin.set_enabled("nobody", False),
        "enable": lambda: admin.set_enabled("nobody", True),
        "rotate": lambda: admin.rotate_secret("nobody"),
        "delete": lambda: admin.delete("nobody"),
        "scope": lambda: admin.set_scopes("nobody", "a"),
    }
    with pytest.raises(ClientNotFound, match="nobody"):
        await calls[action]()


async def test_changes_update_the_timestamp_but_not_the_creation_time(
    admin: ClientAdministration, clock: FixedClock
) -> None:
    await admin.create(client_id="svc")
    clock.advance(60)
    changed = await admin.set_scopes("svc", "x y")
    assert (T0, clock.now(), ("x", "y")) == (changed.created_at, changed.updated_at, changed.scopes)


class ContestedStorage(MemoryStorage):
    """Before each of the next `writes` updates lands, another administrator's change to the same client does."""

    def __init__(self, other_change: Callable[[Client], Client], writes: int) -> None:
        super().__init__()
        self.other_change = other_change
        self.contested_writes = writes
        self.updates = 0

    async def update(self, client: Client) -> Client:
        self.updates += 1
        if self.contested_writes > 0:
            self.contested_writes -= 1
            stored = await self.get(client.client_id)
            assert stored is not None
            await MemoryStorage.update(self, self.other_change(stored))
        return await MemoryStorage.update(self, client)


def disabled(client: Client) -> Client:
    return replace(client, enabled=False)


async def contested(writes: int, clock: FixedClock) -> tuple[ClientAdministration, ContestedStorage]:
    storage = ContestedStorage(disabled, writes=0)
    admin = ClientAdministration(storage, RecordingHasher(), clock, CountingRandomness())
    await admin.create(client_id="svc", scope="a")
    storage.contested_writes = writes
    return admin, storage


CHANGES: dict[str, Callable[[ClientAdministration], Awaitable[object]]] = {
    "rotate-secret": lambda admin: admin.rotate_secret("svc"),
    "set-scope": lambda admin: admin.set_scopes("svc", "b"),
}


@pytest.mark.parametrize("change", list(CHANGES))
async def test_a_change_that_meets_a_concurrent_disable_is_applied_again_and_both_stay(
    clock: FixedClock, change: str
) -> None:
    admin, storage = await contested(writes=1, clock=clock)
    await CHANGES[change](admin)
    stored = await admin.get("svc")
    assert False is stored.enabled  # the other administrator's disable
    expected = {"rotate-secret": ("a",), "set-scope": ("b",)}[change]
    assert expected == stored.scopes
    assert 2 == storage.updates


async def test_the_secret_a_contested_rotation_returns_is_the_one_stored(clock: FixedClock) -> None:
    admin, _ = await contested(writes=1, clock=clock)
    rotated = await admin.rotate_secret("svc")
    assert rotated.secret is not None
    assert "plain$" + rotated.secret == (await admin.get("svc")).secret_hash
    assert rotated.client == await admin.get("svc")


async def test_a_change_that_keeps_meeting_concurrent_changes_fails_loudly_and_writes_nothing(
    clock: FixedClock,
) -> None:
    admin, storage = await contested(writes=CHANGE_ATTEMPTS, clock=clock)
    before = await admin.get("svc")
    with pytest.raises(ClientChangedConcurrently, match="'svc' was being changed by someone else"):
        await admin.rotate_secret("svc")
    after = await admin.get("svc")
    assert (before.secret_hash, False) == (after.secret_hash, after.enabled)  # only the other changes landed
    assert CHANGE_ATTEMPTS == storage.updates


async def test_a_change_to_a_client_deleted_meanwhile_is_client_not_found(clock: FixedClock) -> None:
    storage = MemoryStorage()
    admin = ClientAdministration(storage, RecordingHasher(), clock, CountingRandomness())
    read_before_the_delete = (await admin.create(client_id="svc")).client
    await admin.delete("svc")
    with pytest.raises(ClientNotFound):
        await storage.update(read_before_the_delete)
    with pytest.raises(ClientNotFound):
        await admin.set_enabled("svc", False)


async def test_every_change_returns_the_client_as_stored(admin: ClientAdministration) -> None:
    await admin.create(client_id="svc")
    changes = [
        await admin.set_enabled("svc", False),
        await admin.set_scopes("svc", "x"),
        (await admin.rotate_secret("svc")).client,
    ]
    assert [1, 2, 3] == [client.version for client in changes]
    assert changes[-1] == await admin.get("svc")
