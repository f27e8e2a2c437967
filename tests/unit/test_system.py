"""The real clock, and the id streams for per-request ids: every random byte used once, refills, forks, shapes."""

from __future__ import annotations

import os
import re
import threading

import pytest

from horus.adapters.base64url import b64url
from horus.adapters.system import IDS_PER_BATCH, IdStream, SystemClock, SystemRandomness, new_request_id, new_token_id
from tests.fakes import T0, FixedClock


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


def test_a_batch_of_ids_is_the_encoding_of_one_read_cut_in_equal_parts(urandom: KnownBytes) -> None:
    stream = IdStream(24, 4, bytes.hex)
    ids = [stream() for _ in range(IDS_PER_BATCH)]
    assert [24 * IDS_PER_BATCH // 2] == [len(chunk) for chunk in urandom.fetched]
    assert urandom.fetched[0].hex() == "".join(ids)


def test_an_exhausted_stream_reads_fresh_bytes(urandom: KnownBytes) -> None:
    stream = IdStream(22, 6, b64url)
    first_batch = [stream() for _ in range(IDS_PER_BATCH)]
    following = stream()
    assert 2 == len(urandom.fetched)
    assert b64url(urandom.fetched[0]) == "".join(first_batch)
    assert b64url(urandom.fetched[1])[:22] == following


def test_a_fresh_stream_reads_nothing_until_asked(urandom: KnownBytes) -> None:
    stream = IdStream(24, 4, bytes.hex)
    assert [] == urandom.fetched
    stream()
    assert 1 == len(urandom.fetched)


def test_clear_drops_the_ids_not_handed_out_yet(urandom: KnownBytes) -> None:
    stream = IdStream(24, 4, bytes.hex)
    stream()
    stream.clear()
    after = stream()
    assert 2 == len(urandom.fetched)
    assert urandom.fetched[1].hex()[:24] == after


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_hand_out_its_parents_ids() -> None:
    stream = IdStream(24, 4, bytes.hex)
    stream()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave without running pytest's teardown
        os.write(write_end, stream().encode("ascii"))
        os._exit(0)
    os.close(write_end)
    child_id = os.read(read_end, 64).decode("ascii")
    os.close(read_end)
    os.waitpid(pid, 0)
    parents_next = [stream() for _ in range(IDS_PER_BATCH - 1)]
    assert 24 == len(child_id)
    assert child_id not in parents_next


def test_threads_never_get_the_same_id() -> None:
    stream = IdStream(22, 6, b64url)
    taken: list[list[str]] = [[] for _ in range(4)]

    def take(into: list[str]) -> None:
        for _ in range(5_000):
            into.append(stream())

    threads = [threading.Thread(target=take, args=(into,)) for into in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [value for into in taken for value in into]
    assert len(every) == len(set(every))


def test_request_ids_are_24_hex_digits_and_distinct() -> None:
    ids = [new_request_id() for _ in range(10_000)]
    assert [] == [value for value in ids if not re.fullmatch(r"[0-9a-f]{24}", value)]
    assert 10_000 == len(set(ids))


def test_token_ids_are_22_url_safe_characters_and_distinct() -> None:
    randomness = SystemRandomness()
    ids = [randomness.token_id() for _ in range(10_000)]
    assert [] == [value for value in ids if not re.fullmatch(r"[A-Za-z0-9_-]{22}", value)]
    assert 10_000 == len(set(ids))


def test_token_ids_come_from_the_token_id_stream(urandom: KnownBytes) -> None:
    new_token_id.clear()
    token_id = SystemRandomness().token_id()
    assert b64url(urandom.fetched[0])[:22] == token_id
    new_token_id.clear()  # the known bytes must not outlive this test


def test_the_system_clock_s_epoch_seconds_are_its_now() -> None:
    clock = SystemClock()
    before = int(clock.now().timestamp())
    seconds = clock.epoch_seconds()
    after = int(clock.now().timestamp())
    assert before <= seconds <= after


def test_a_clock_without_its_own_epoch_seconds_derives_them_from_now() -> None:
    assert int(T0.timestamp()) == FixedClock(T0).epoch_seconds()
