"""Introspection and a client's not-before: tokens issued before a new secret, a disable or a re-creation stay inactive.

A token's iat is whole seconds, so the tests say on which side of a change a token from the
change's own second falls: after rotate-secret or disable it counts as issued before (inactive);
after a creation it counts as the new client's (active).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from horus.adapters.storage.memory import MemoryStorage
from horus.domain.administration import ClientAdministration
from horus.domain.introspection import TokenIntrospection
from horus.domain.token import AccessTokenClaims
from tests.fakes import T0, CountingRandomness, FixedClock, RecordingHasher

LIFETIME = 3600


@dataclass
class IssuingVerifier:
    """Verifies the tokens it issued, as the signer and verifier would: iat is the clock's whole second."""

    clock: FixedClock
    issued: dict[str, AccessTokenClaims] = field(default_factory=dict)

    def issue(self, client_id: str) -> str:
        token = f"token-{len(self.issued)}"
        iat = self.clock.epoch_seconds()
        self.issued[token] = AccessTokenClaims("iss", client_id, client_id, "aud", iat, iat + LIFETIME, token, ())
        return token

    def verify(self, token: str) -> AccessTokenClaims | None:
        return self.issued.get(token)


@dataclass
class World:
    clock: FixedClock
    tokens: IssuingVerifier
    admin: ClientAdministration
    introspection: TokenIntrospection

    async def active(self, token: str) -> bool:
        return await self.introspection.introspect(token) is not None


@pytest.fixture
async def world() -> World:
    clock, storage = FixedClock(T0), MemoryStorage()
    tokens = IssuingVerifier(clock)
    world = World(
        clock,
        tokens,
        ClientAdministration(storage, RecordingHasher(), clock, CountingRandomness()),
        TokenIntrospection(tokens, storage, storage, clock),
    )
    await world.admin.create(client_id="svc")
    clock.advance(10)
    return world


async def test_a_rotated_secret_ends_the_tokens_issued_before(world: World) -> None:
    before = world.tokens.issue("svc")
    world.clock.advance(5)
    await world.admin.rotate_secret("svc")
    world.clock.advance(1)
    after = world.tokens.issue("svc")
    assert (False, True) == (await world.active(before), await world.active(after))


async def test_with_keep_tokens_a_rotated_secret_leaves_earlier_tokens_active(world: World) -> None:
    before = world.tokens.issue("svc")
    world.clock.advance(5)
    await world.admin.rotate_secret("svc", keep_tokens=True)
    assert True is await world.active(before)


async def test_a_disabled_then_enabled_clients_earlier_tokens_stay_inactive(world: World) -> None:
    before = world.tokens.issue("svc")
    world.clock.advance(5)
    await world.admin.set_enabled("svc", False)
    world.clock.advance(5)
    await world.admin.set_enabled("svc", True)
    after = world.tokens.issue("svc")
    assert (False, True) == (await world.active(before), await world.active(after))


async def test_a_new_client_with_the_id_of_a_deleted_one_does_not_inherit_its_tokens(world: World) -> None:
    before = world.tokens.issue("svc")
    world.clock.advance(5)
    await world.admin.delete("svc")
    await world.admin.create(client_id="svc")
    after = world.tokens.issue("svc")
    assert (False, True) == (await world.active(before), await world.active(after))


async def test_changing_scopes_or_enabling_leaves_tokens_active(world: World) -> None:
    before = world.tokens.issue("svc")
    world.clock.advance(5)
    await world.admin.set_scopes("svc", "read")
    await world.admin.set_enabled("svc", True)
    assert True is await world.active(before)


@pytest.mark.parametrize("change", ["rotate-secret", "disable and enable"])
async def test_a_token_from_the_second_of_a_change_that_ends_tokens_is_inactive_on_either_side_of_it(
    world: World, change: str
) -> None:
    world.clock.advance(0.2)
    before = world.tokens.issue("svc")  # at .2 s
    world.clock.advance(0.2)
    if change == "rotate-secret":
        await world.admin.rotate_secret("svc")  # at .4 s
    else:
        await world.admin.set_enabled("svc", False)
        await world.admin.set_enabled("svc", True)
    world.clock.advance(0.2)
    same_second = world.tokens.issue("svc")  # at .6 s: the same iat as `before`, so it cannot be told apart
    world.clock.advance(0.4)
    next_second = world.tokens.issue("svc")
    assert (False, False, True) == (
        await world.active(before),
        await world.active(same_second),
        await world.active(next_second),
    )


async def test_a_change_on_a_whole_second_trusts_the_tokens_of_that_second(world: World) -> None:
    before = world.tokens.issue("svc")  # T0 + 10 s, a whole second
    world.clock.advance(1)
    await world.admin.rotate_secret("svc")  # T0 + 11 s exactly
    after = world.tokens.issue("svc")
    assert (False, True) == (await world.active(before), await world.active(after))


async def test_a_token_from_the_second_a_client_is_created_in_is_active(world: World) -> None:
    world.clock.advance(0.4)
    await world.admin.create(client_id="new")  # at .4 s
    world.clock.advance(0.2)
    assert True is await world.active(world.tokens.issue("new"))  # at .6 s, the same second
