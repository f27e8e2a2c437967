"""The pooled CSPRNG for per-request ids: every byte handed out once, refills, and the token ids made from it."""

from __future__ import annotations

import re

import pytest

from horus.adapters import system
from horus.adapters.system import RandomPool, SystemRandomness, random_id_bytes


class KnownBytes:
    """Stands in for os.urandom: each call returns the next bytes of 0, 1, 2, ... 255, 0, 1, ..."""

    def __init__(self) -> None:
        self.fetched: list[bytes] = []
        self._next = 0

    def __call__(self, count: int) -> bytes:
        chunk = bytes((self._next + index) % 256 for index in range(count))
        self._next += count
        self.fetched.append(chunk)
        return chunk


@pytest.fixture
def urandom(monkeypatch: pytest.MonkeyPatch) -> KnownBytes:
    known = KnownBytes()
    monkeypatch.setattr("horus.adapters.system.os.urandom", known)  # the os module itself: restored after
    return known


@pytest.mark.parametrize("count", [1, 12, 16, 100])
def test_a_take_returns_the_requested_number_of_bytes(count: int) -> None:
    assert count == len(RandomPool().take(count))
    assert count == len(random_id_bytes(count))


def test_consecutive_takes_hand_out_each_fetched_byte_once(urandom: KnownBytes) -> None:
    pool = RandomPool(size=32)
    taken = [pool.take(count) for count in (3, 5, 8, 16)]
    assert 1 == len(urandom.fetched)
    assert urandom.fetched[0] == b"".join(taken)


def test_an_exhausted_pool_fetches_fresh_bytes(urandom: KnownBytes) -> None:
    pool = RandomPool(size=16)
    first = pool.take(16)
    second = pool.take(4)
    assert [16, 16] == [len(chunk) for chunk in urandom.fetched]
    assert (urandom.fetched[0], urandom.fetched[1][:4]) == (first, second)


def test_a_take_that_does_not_fit_in_the_rest_fetches_fresh_bytes(urandom: KnownBytes) -> None:
    pool = RandomPool(size=16)
    pool.take(10)
    second = pool.take(10)  # 6 left: the rest is dropped, never split across two fetches
    assert 2 == len(urandom.fetched)
    assert urandom.fetched[1][:10] == second


def test_a_take_larger_than_the_pool_works(urandom: KnownBytes) -> None:
    pool = RandomPool(size=16)
    large = pool.take(40)
    following = pool.take(4)
    assert [40, 16] == [len(chunk) for chunk in urandom.fetched]
    assert (urandom.fetched[0], urandom.fetched[1][:4]) == (large, following)


def test_clear_makes_the_next_take_fetch_fresh_bytes(urandom: KnownBytes) -> None:
    pool = RandomPool(size=32)
    pool.take(4)
    pool.clear()
    after = pool.take(4)
    assert 2 == len(urandom.fetched)
    assert urandom.fetched[1][:4] == after


def test_a_fresh_pool_fetches_nothing_until_asked(urandom: KnownBytes) -> None:
    pool = RandomPool(size=32)
    assert [] == urandom.fetched
    pool.take(1)
    assert [32] == [len(chunk) for chunk in urandom.fetched]


def test_the_real_pool_does_not_repeat_itself() -> None:
    pool = RandomPool(size=64)
    chunks = [pool.take(16) for _ in range(1000)]
    assert 1000 == len(set(chunks))


def test_token_ids_are_22_url_safe_characters_and_distinct() -> None:
    randomness = SystemRandomness()
    ids = [randomness.token_id() for _ in range(10_000)]
    assert [] == [value for value in ids if not re.fullmatch(r"[A-Za-z0-9_-]{22}", value)]
    assert 10_000 == len(set(ids))


def test_a_token_id_is_the_unpadded_url_safe_base64_of_16_pool_bytes(
    urandom: KnownBytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(system, "_ids", RandomPool(size=64))
    token_id = SystemRandomness().token_id()
    assert "AAECAwQFBgcICQoLDA0ODw" == token_id  # bytes 0..15
    assert urandom.fetched[0][16:32] == random_id_bytes(16)
