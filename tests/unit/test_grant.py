"""The client-credentials grant and client authentication, with fakes for every port."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from horus.adapters.storage.memory import MemoryStorage
from horus.adapters.throttling.memory import MemoryAdmission
from horus.domain.administration import ClientAdministration
from horus.domain.authentication import ClientAuthenticator
from horus.domain.errors import InvalidClient, InvalidScope
from horus.domain.grant import ClientCredentialsGrant, granted_scopes
from horus.domain.throttling import ThrottlePolicy
from horus.domain.token import AccessTokenClaims, TokenPolicy
from tests.fakes import T0, CountingRandomness, FixedClock, RecordingHasher, RecordingSigner

POLICY = TokenPolicy(issuer="https://horus.test", audience="https://api.test", lifetime_seconds=600)


@dataclass
class World:
    storage: MemoryStorage
    hasher: RecordingHasher
    signer: RecordingSigner
    clock: FixedClock
    admin: ClientAdministration
    grant: ClientCredentialsGrant


@pytest.fixture
def world() -> World:
    storage, hasher, signer, clock, randomness = (
        MemoryStorage(),
        RecordingHasher(),
        RecordingSigner(),
        FixedClock(),
        CountingRandomness(),
    )
    admin = ClientAdministration(storage, hasher, clock, randomness)
    authenticator = ClientAuthenticator(storage, hasher, MemoryAdmission(60), ThrottlePolicy())
    grant = ClientCredentialsGrant(authenticator, signer, clock, randomness, POLICY)
    return World(storage, hasher, signer, clock, admin, grant)


async def test_a_registered_client_gets_a_token_with_rfc9068_claims(world: World) -> None:
    created = await world.admin.create(client_id="billing", scope="read write")
    assert created.secret is not None

    issued = await world.grant.issue("billing", created.secret)

    assert ("token-1", 600, ("read", "write")) == (issued.access_token, issued.expires_in, issued.scopes)
    claims = world.signer.signed[0]
    iat = int(T0.timestamp())
    expected = AccessTokenClaims(
        iss="https://horus.test",
        sub="billing",
        client_id="billing",
        aud="https://api.test",
        iat=iat,
        exp=iat + 600,
        jti=claims.jti,
        scopes=("read", "write"),
    )
    assert expected == claims
    assert "read write" == claims.scope


async def test_every_token_has_its_own_jti(world: World) -> None:
    created = await world.admin.create(client_id="svc")
    assert created.secret is not None
    await world.grant.issue("svc", created.secret)
    await world.grant.issue("svc", created.secret)
    assert 2 == len({claims.jti for claims in world.signer.signed})


async def test_a_client_without_scopes_gets_no_scope_claim(world: World) -> None:
    created = await world.admin.create(client_id="svc")
    assert created.secret is not None
    issued = await world.grant.issue("svc", created.secret)
    assert (None, None) == (issued.scope, world.signer.signed[0].scope)


async def test_unknown_client_is_refused_after_verifying_a_dummy_hash(world: World) -> None:
    with pytest.raises(InvalidClient):
        await world.grant.issue("nobody", "some-secret")
    assert [("nobody", None)] == world.hasher.verified


async def test_wrong_secret_is_refused(world: World) -> None:
    await world.admin.create(client_id="svc")
    with pytest.raises(InvalidClient):
        await world.grant.issue("svc", "wrong")
    assert [] == world.signer.signed


async def test_disabled_client_is_refused_after_the_same_dummy_verification_as_an_unknown_one(world: World) -> None:
    created = await world.admin.create(client_id="svc")
    assert created.secret is not None
    await world.admin.set_enabled("svc", False)
    with pytest.raises(InvalidClient):
        await world.grant.issue("svc", created.secret)
    assert [("svc", None)] == world.hasher.verified


async def test_unknown_wrong_and_disabled_fail_with_one_message(world: World) -> None:
    created = await world.admin.create(client_id="svc")
    assert created.secret is not None
    await world.admin.create(client_id="off")
    await world.admin.set_enabled("off", False)
    messages = set()
    for client_id, secret in (("nobody", created.secret), ("svc", "wrong"), ("off", created.secret)):
        with pytest.raises(InvalidClient) as raised:
            await world.grant.issue(client_id, secret)
        messages.add(raised.value.message)
    assert {"client authentication failed"} == messages


async def test_a_mistyped_generated_secret_is_refused_before_any_lookup_or_hashing(world: World) -> None:
    created = await world.admin.create(client_id="svc")
    assert created.secret is not None
    mistyped = created.secret[:-1] + ("A" if created.secret[-1] != "A" else "B")
    with pytest.raises(InvalidClient):
        await world.grant.issue("svc", mistyped)
    assert [] == world.hasher.verified


async def test_an_id_no_client_can_have_is_not_looked_up_but_still_costs_a_verification(world: World) -> None:
    with pytest.raises(InvalidClient):
        await world.grant.issue("not a valid id", "secret")
    assert [("not a valid id", None)] == world.hasher.verified


async def test_rotating_the_secret_refuses_the_old_one(world: World) -> None:
    created = await world.admin.create(client_id="svc")
    rotated = await world.admin.rotate_secret("svc")
    assert created.secret is not None
    assert rotated.secret is not None
    with pytest.raises(InvalidClient):
        await world.grant.issue("svc", created.secret)
    assert "token-1" == (await world.grant.issue("svc", rotated.secret)).access_token


async def test_a_deleted_client_is_refused(world: World) -> None:
    created = await world.admin.create(client_id="svc")
    assert created.secret is not None
    await world.admin.delete("svc")
    with pytest.raises(InvalidClient):
        await world.grant.issue("svc", created.secret)


@pytest.mark.parametrize(
    ("allowed", "requested", "expected"),
    [
        (("a", "b"), None, ("a", "b")),
        (("a", "b"), ("b",), ("b",)),
        (("a", "b"), ("b", "a", "a"), ("a", "b")),
        ((), None, ()),
    ],
)
def test_granted_scopes(allowed: tuple[str, ...], requested: tuple[str, ...] | None, expected: tuple[str, ...]) -> None:
    assert expected == granted_scopes(allowed, requested)


def test_scopes_outside_the_allowed_set_are_refused_whole() -> None:
    with pytest.raises(InvalidScope, match="admin"):
        granted_scopes(("read",), ("read", "admin"))
