from __future__ import annotations

import stat
from pathlib import Path

import pytest

from horus.adapters.security.server_key import (
    ServerKeyError,
    load_key_file,
    load_or_create_key_file,
    server_key_from_text,
)


def test_the_key_file_is_created_once_with_0600(tmp_path: Path) -> None:
    path = tmp_path / "horus.key"
    first = load_or_create_key_file(path)
    second = load_or_create_key_file(path)
    assert first.material == second.material
    assert 0o600 == stat.S_IMODE(path.stat().st_mode)


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "horus.key"
    load_or_create_key_file(path)
    path.chmod(0o644)
    with pytest.raises(ServerKeyError, match="chmod 600"):
        load_or_create_key_file(path)


def test_a_missing_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ServerKeyError, match="does not exist"):
        load_or_create_key_file(tmp_path / "nope" / "horus.key")


def test_short_keys_are_refused() -> None:
    with pytest.raises(ServerKeyError, match="HORUS_SECRET_KEY"):
        server_key_from_text("short", "HORUS_SECRET_KEY")


def test_subkeys_differ_by_purpose_and_the_key_does_not_print() -> None:
    key = server_key_from_text("x" * 40, "HORUS_SECRET_KEY")
    assert key.derive("a") != key.derive("b")
    assert "x" * 40 not in repr(key)


def test_reading_a_missing_key_file_creates_nothing_and_says_where_it_looked(tmp_path: Path) -> None:
    path = tmp_path / "horus.key"
    with pytest.raises(ServerKeyError, match=f"no server key file at {path}"):
        load_key_file(path)
    assert not path.exists()


def test_reading_an_existing_key_file_gives_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "horus.key"
    assert load_or_create_key_file(path).material == load_key_file(path).material
