"""A signing key as it is kept in storage: public half in the clear, private half encrypted under the server key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class StoredSigningKey:
    kid: str
    algorithm: str
    encrypted_private_key: bytes
    public_jwk: str
    """The public JWK as JSON text, published as it is."""
    created_at: datetime
    activates_at: datetime
    """Published from created_at, used for signing from activates_at (the rotation lead time)."""
    retires_at: datetime | None = None
    """Removed from the JWKS after this; set when a newer key takes over."""
