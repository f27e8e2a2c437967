from __future__ import annotations

import pytest

from horus.adapters.storage.memory import MemoryStorage
from horus.domain.administration import ClientAdministration
from horus.domain.client_secret import is_well_formed_generated_secret
from horus.domain.errors import ClientAlreadyExists, ClientNotFound, InvalidClientData
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
