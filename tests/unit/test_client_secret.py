from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from horus.domain.client_secret import (
    GENERATED_SECRET_LENGTH,
    SECRET_PREFIX,
    format_generated_secret,
    is_well_formed_generated_secret,
)


@given(st.binary(min_size=32, max_size=32))
def test_every_generated_secret_is_well_formed(random_bytes: bytes) -> None:
    secret = format_generated_secret(random_bytes)
    assert secret.startswith(SECRET_PREFIX)
    assert len(secret) == GENERATED_SECRET_LENGTH
    assert is_well_formed_generated_secret(secret)


@given(
    st.binary(min_size=32, max_size=32),
    st.integers(min_value=len(SECRET_PREFIX), max_value=GENERATED_SECRET_LENGTH - 1),
)
def test_a_single_changed_character_breaks_the_checksum(random_bytes: bytes, position: int) -> None:
    secret = format_generated_secret(random_bytes)
    replacement = "A" if secret[position] != "A" else "B"
    mistyped = secret[:position] + replacement + secret[position + 1 :]
    assert not is_well_formed_generated_secret(mistyped)


def test_distinct_random_bytes_give_distinct_secrets() -> None:
    assert format_generated_secret(b"\x00" * 32) != format_generated_secret(b"\x00" * 31 + b"\x01")


@given(st.text(max_size=80))
def test_arbitrary_text_is_not_mistaken_for_a_generated_secret(text: str) -> None:
    assert (
        not is_well_formed_generated_secret(SECRET_PREFIX + text)
        or len(SECRET_PREFIX + text) == GENERATED_SECRET_LENGTH
    )


def test_secrets_need_256_bits() -> None:
    import pytest

    with pytest.raises(ValueError, match="32 random bytes"):
        format_generated_secret(b"\x01" * 31)
