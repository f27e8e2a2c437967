"""Fixtures the signing tests share: a fixed clock and a key ring on memory storage."""

from __future__ import annotations

import pytest

from horus.adapters.signing.key_material import KeyEncryption
from horus.adapters.signing.key_ring import KeyRing, stored_key_ring
from horus.adapters.storage.memory import MemoryStorage
from tests.fakes import FixedClock


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
async def ring(clock: FixedClock) -> KeyRing:
    return await stored_key_ring(MemoryStorage(), KeyEncryption(b"e" * 32), clock)
