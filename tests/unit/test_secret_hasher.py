from __future__ import annotations

import hashlib
import hmac

import pytest

from horus.adapters.security.secret_hasher import ARGON2_SCHEME, HMAC_SCHEME, SchemeSecretHasher
from horus.domain.client_secret import format_generated_secret
from tests.fakes import cheap_argon2

KEY = b"k" * 32
GENERATED = format_generated_secret(b"\x07" * 32)
LEGACY = "b3209806-42da-402d-92dc-ab2f3ef8608b"


@pytest.fixture
def hasher() -> SchemeSecretHasher:
    return SchemeSecretHasher(KEY, cheap_argon2())


def test_generated_secrets_are_stored_as_a_keyed_hmac(hasher: SchemeSecretHasher) -> None:
    expected = HMAC_SCHEME + hmac.new(KEY, GENERATED.encode(), hashlib.sha256).hexdigest()
    assert expected == hasher.hash_generated(GENERATED)


def test_imported_secrets_are_stored_with_argon2id(hasher: SchemeSecretHasher) -> None:
    stored = hasher.hash_imported(LEGACY)
    assert stored.startswith(ARGON2_SCHEME + "$argon2id$")
    assert LEGACY not in stored


def test_a_different_server_key_gives_a_different_hash() -> None:
    assert SchemeSecretHasher(b"a" * 32, cheap_argon2()).hash_generated(GENERATED) != SchemeSecretHasher(
        b"b" * 32, cheap_argon2()
    ).hash_generated(GENERATED)


async def test_both_schemes_verify_their_own_secret(hasher: SchemeSecretHasher) -> None:
    assert await hasher.verify("svc", GENERATED, hasher.hash_generated(GENERATED))
    assert await hasher.verify("legacy", LEGACY, hasher.hash_imported(LEGACY))


async def test_wrong_secrets_fail(hasher: SchemeSecretHasher) -> None:
    other = format_generated_secret(b"\x08" * 32)
    assert not await hasher.verify("svc", other, hasher.hash_generated(GENERATED))
    assert not await hasher.verify("legacy", LEGACY + "x", hasher.hash_imported(LEGACY))


async def test_unknown_clients_fail_even_for_the_dummy_secret(hasher: SchemeSecretHasher) -> None:
    assert not await hasher.verify("nobody", "horus-dummy-secret", None)
    assert not await hasher.verify("nobody", GENERATED, None)


async def test_the_presented_secrets_shape_not_the_record_picks_the_scheme(hasher: SchemeSecretHasher) -> None:
    # A legacy-shaped secret against a generated-secret client, and the reverse: both fail without
    # revealing which scheme the client has.
    assert not await hasher.verify("svc", LEGACY, hasher.hash_generated(LEGACY))
    assert not await hasher.verify("legacy", GENERATED, hasher.hash_imported(GENERATED))


async def test_unencodable_text_does_not_crash(hasher: SchemeSecretHasher) -> None:
    assert not await hasher.verify("svc", "\ud800lone-surrogate", hasher.hash_generated(GENERATED))
    assert not await hasher.verify("svc", "horus_sk_\ud800", None)


async def test_a_corrupt_stored_hash_fails_closed(hasher: SchemeSecretHasher) -> None:
    assert not await hasher.verify("legacy", LEGACY, ARGON2_SCHEME + "$argon2id$garbage")


class CountingArgon2:
    """Wraps a cheap argon2 hasher and counts verifications."""

    def __init__(self) -> None:
        self.inner = cheap_argon2()
        self.verifications = 0

    def hash(self, secret: bytes) -> str:
        return self.inner.hash(secret)

    def verify(self, phc: str, secret: bytes) -> bool:
        self.verifications += 1
        return self.inner.verify(phc, secret)


async def test_a_successful_argon2_verification_is_paid_once() -> None:
    counting = CountingArgon2()
    hasher = SchemeSecretHasher(KEY, counting)  # type: ignore[arg-type]
    stored = hasher.hash_imported(LEGACY)
    before = counting.verifications
    for _ in range(5):
        assert await hasher.verify("legacy", LEGACY, stored)
    assert 1 == counting.verifications - before


async def test_wrong_secrets_are_never_remembered_and_always_pay() -> None:
    counting = CountingArgon2()
    hasher = SchemeSecretHasher(KEY, counting)  # type: ignore[arg-type]
    stored = hasher.hash_imported(LEGACY)
    before = counting.verifications
    for _ in range(3):
        assert not await hasher.verify("legacy", LEGACY + "x", stored)
    assert 3 == counting.verifications - before


async def test_a_new_hash_or_another_client_misses_the_cache() -> None:
    hasher = SchemeSecretHasher(KEY, cheap_argon2())
    stored = hasher.hash_imported(LEGACY)
    assert await hasher.verify("legacy", LEGACY, stored)
    assert not await hasher.verify("legacy", LEGACY, hasher.hash_imported("rotated-secret"))
    assert await hasher.verify("legacy-2", LEGACY, stored)  # verified for real, not remembered


async def test_concurrent_identical_verifications_share_one_argon2_run() -> None:
    import asyncio

    counting = CountingArgon2()
    hasher = SchemeSecretHasher(KEY, counting)  # type: ignore[arg-type]
    stored = hasher.hash_imported(LEGACY)
    before = counting.verifications
    results = await asyncio.gather(*(hasher.verify("legacy", LEGACY, stored) for _ in range(20)))
    assert [True] * 20 == results
    assert 1 == counting.verifications - before
