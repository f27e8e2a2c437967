"""The server key: the one secret of a deployment. It keys secret hashes and encrypts signing keys at rest.

It comes from HORUS_SECRET_KEY, or from a key file created with 0600 permissions on first
start. Purpose-specific subkeys are derived with HKDF so that no two uses share a key.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from horus.adapters.base64url import b64url

MIN_SERVER_KEY_BYTES = 32


class ServerKeyError(Exception):
    """The server key is missing, unreadable or too short; the message says which and where."""


@dataclass(frozen=True, slots=True)
class ServerKey:
    material: bytes

    def __post_init__(self) -> None:
        if len(self.material) < MIN_SERVER_KEY_BYTES:
            raise ServerKeyError(f"the server key must be at least {MIN_SERVER_KEY_BYTES} bytes")

    def derive(self, purpose: str) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(self.material)

    def __repr__(self) -> str:
        return "ServerKey(<redacted>)"


def server_key_from_text(text: str, source: str) -> ServerKey:
    material = text.strip().encode("utf-8")
    if len(material) < MIN_SERVER_KEY_BYTES:
        raise ServerKeyError(f"{source} must be at least {MIN_SERVER_KEY_BYTES} characters")
    return ServerKey(material)


def load_key_file(path: Path) -> ServerKey:
    """Reads the key file, which must exist: for commands that only read, and so must not create a key."""
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        raise ServerKeyError(
            f"HORUS_SECRET_KEY_FILE: no server key file at {path.absolute()}; give the server's"
            " (HORUS_SECRET_KEY_FILE, or HORUS_SECRET_KEY)"
        ) from None


def load_or_create_key_file(path: Path) -> ServerKey:
    """Reads the key file, or creates it (0600, exclusive create, so two starting processes agree)."""
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        pass
    if not path.parent.is_dir():
        raise ServerKeyError(f"HORUS_SECRET_KEY_FILE: directory {path.parent} does not exist")
    text = b64url(secrets.token_bytes(32))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key_file(path)
    except OSError as error:
        raise ServerKeyError(f"HORUS_SECRET_KEY_FILE: cannot create {path}: {error.strerror}") from error
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return server_key_from_text(text, f"HORUS_SECRET_KEY_FILE ({path})")


def _read_key_file(path: Path) -> ServerKey:
    try:
        mode = path.stat().st_mode
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as error:
        raise ServerKeyError(f"HORUS_SECRET_KEY_FILE: cannot read {path}: {error}") from error
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ServerKeyError(f"HORUS_SECRET_KEY_FILE: {path} is readable by others; chmod 600 it")
    return server_key_from_text(text, f"HORUS_SECRET_KEY_FILE ({path})")


def ephemeral_server_key() -> ServerKey:
    """For memory:// storage, where nothing it protects outlives the process anyway."""
    return ServerKey(secrets.token_bytes(32))
