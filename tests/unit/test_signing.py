"""Signing and verifying RFC 9068 tokens, keys at rest, and every hostile token we know of."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import replace
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from horus.adapters.base64url import b64url
from horus.adapters.signing.jwt_signer import P256_ORDER
from horus.adapters.signing.jwt_verifier import JwtVerifier
from horus.adapters.signing.key_material import KeyEncryption, SigningKeyError, generate_es256_key
from horus.adapters.signing.key_ring import KeyRing, hs256_key_ring, key_file_ring, stored_key_ring
from horus.adapters.storage.memory import MemoryStorage
from horus.domain.token import AccessTokenClaims
from tests.fakes import T0, FixedClock

ISSUER = "https://horus.test"
AUDIENCE = "https://api.test"


def claims(clock: FixedClock, **overrides: object) -> AccessTokenClaims:
    iat = int(clock.now().timestamp())
    values: dict[str, object] = {
        "iss": ISSUER,
        "sub": "svc",
        "client_id": "svc",
        "aud": AUDIENCE,
        "iat": iat,
        "exp": iat + 600,
        "jti": "jti-1",
        "scopes": ("read",),
    }
    values.update(overrides)
    return AccessTokenClaims(**values)  # type: ignore[arg-type]


@pytest.fixture
def verifier(ring: KeyRing, clock: FixedClock) -> JwtVerifier:
    return JwtVerifier(ring, ISSUER, AUDIENCE, clock)


def forge(header: dict[str, object], payload: dict[str, object], signature: bytes = b"sig") -> str:
    def part(data: dict[str, object]) -> str:
        return b64url(json.dumps(data).encode())

    return f"{part(header)}.{part(payload)}.{b64url(signature)}"


def test_tokens_verify_with_pyjwt_and_the_published_jwk(ring: KeyRing, clock: FixedClock) -> None:
    token = ring.sign(claims(clock))
    header = jwt.get_unverified_header(token)
    assert {"alg": "ES256", "typ": "at+jwt", "kid": ring.active_kid} == header
    public = jwt.PyJWK(ring.jwks()["keys"][0])
    decoded = jwt.decode(
        token,
        public,
        algorithms=["ES256"],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"verify_exp": False, "verify_iat": False},
    )
    iat = int(T0.timestamp())
    expected = {
        "iss": ISSUER,
        "sub": "svc",
        "client_id": "svc",
        "aud": AUDIENCE,
        "iat": iat,
        "exp": iat + 600,
        "jti": "jti-1",
        "scope": "read",
    }
    assert expected == decoded


def test_no_scope_claim_without_scopes(ring: KeyRing, clock: FixedClock) -> None:
    token = ring.sign(claims(clock, scopes=()))
    assert "scope" not in jwt.decode(token, options={"verify_signature": False})


def test_the_jwks_holds_public_material_only(ring: KeyRing) -> None:
    (key,) = ring.jwks()["keys"]
    assert {"kty", "crv", "x", "y", "kid", "alg", "use"} == set(key)
    assert ("EC", "P-256", "ES256", "sig") == (key["kty"], key["crv"], key["alg"], key["use"])


async def test_the_key_is_kept_encrypted_and_survives_a_restart(clock: FixedClock) -> None:
    storage = MemoryStorage()
    first = await stored_key_ring(storage, KeyEncryption(b"e" * 32), clock)
    second = await stored_key_ring(storage, KeyEncryption(b"e" * 32), clock)
    assert first.active_kid == second.active_kid
    (stored,) = await storage.list_keys()
    private = generate_es256_key().private_key  # any DER of a P-256 key starts alike; ours must not be visible
    der_prefix = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )[:20]
    assert der_prefix not in stored.encrypted_private_key


async def test_a_different_server_key_cannot_open_the_stored_key(clock: FixedClock) -> None:
    storage = MemoryStorage()
    await stored_key_ring(storage, KeyEncryption(b"e" * 32), clock)
    with pytest.raises(SigningKeyError, match="server key differs"):
        await stored_key_ring(storage, KeyEncryption(b"f" * 32), clock)


def test_hs256_publishes_no_keys_and_verifies_with_the_shared_secret(clock: FixedClock) -> None:
    secret = "s" * 40
    ring = hs256_key_ring(secret)
    token = ring.sign(claims(clock))
    assert {"keys": []} == ring.jwks()
    decoded = jwt.decode(
        token, secret, algorithms=["HS256"], audience=AUDIENCE, options={"verify_exp": False, "verify_iat": False}
    )
    assert "svc" == decoded["sub"]
    assert JwtVerifier(ring, ISSUER, AUDIENCE, clock).verify(token) is not None


def test_short_hs256_secrets_are_refused() -> None:
    with pytest.raises(SigningKeyError, match="HORUS_SIGNING_SECRET"):
        hs256_key_ring("short")


def test_a_pem_key_file_is_used_as_it_is(tmp_path, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    private = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "key.pem"
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    ring = key_file_ring(path)
    token = ring.sign(claims(clock))
    jwt.decode(
        token,
        private.public_key(),
        algorithms=["ES256"],
        audience=AUDIENCE,
        options={"verify_exp": False, "verify_iat": False},
    )


def test_key_files_that_are_not_p256_are_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "rsa.pem"
    path.write_bytes(
        rsa.generate_private_key(65537, 2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(SigningKeyError, match="EC P-256"):
        key_file_ring(path)
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(SigningKeyError, match="PEM"):
        key_file_ring(tmp_path / "junk.pem")


def test_a_valid_token_verifies(ring: KeyRing, verifier: JwtVerifier, clock: FixedClock) -> None:
    verified = verifier.verify(ring.sign(claims(clock)))
    assert claims(clock) == verified


def test_an_expired_token_is_refused(ring: KeyRing, verifier: JwtVerifier, clock: FixedClock) -> None:
    token = ring.sign(claims(clock))
    clock.advance(600)
    assert verifier.verify(token) is None


def test_a_token_from_the_future_is_refused(ring: KeyRing, verifier: JwtVerifier, clock: FixedClock) -> None:
    future = clock.now() + timedelta(hours=1)
    token = ring.sign(claims(FixedClock(future)))
    assert verifier.verify(token) is None


@pytest.mark.parametrize("overrides", [{"iss": "https://evil.test"}, {"aud": "https://other-api.test"}])
def test_foreign_issuer_or_audience_is_refused(
    ring: KeyRing, verifier: JwtVerifier, clock: FixedClock, overrides: dict[str, object]
) -> None:
    assert verifier.verify(ring.sign(claims(clock, **overrides))) is None


def _payload(clock: FixedClock) -> dict[str, object]:
    iat = int(clock.now().timestamp())
    return {"iss": ISSUER, "sub": "svc", "client_id": "svc", "aud": AUDIENCE, "iat": iat, "exp": iat + 600, "jti": "j"}


def test_alg_none_is_refused(ring: KeyRing, verifier: JwtVerifier, clock: FixedClock) -> None:
    token = forge({"alg": "none", "typ": "at+jwt", "kid": ring.active_kid}, _payload(clock), b"")
    assert verifier.verify(token) is None
    assert verifier.verify(token.rsplit(".", 1)[0] + ".") is None


def test_hs256_keyed_with_the_public_key_is_refused(ring: KeyRing, verifier: JwtVerifier, clock: FixedClock) -> None:
    public_pem = jwt.PyJWK(ring.jwks()["keys"][0]).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import hashlib
    import hmac

    header = b64url(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": ring.active_kid}).encode())
    payload = b64url(json.dumps(_payload(clock)).encode())
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert verifier.verify(f"{header}.{payload}.{b64url(signature)}") is None


@pytest.mark.parametrize(
    "header_changes",
    [
        {"kid": "unknown"},
        {"kid": "../../etc/passwd"},
        {"kid": "' OR 1=1 --"},
        {"kid": None},
        {"jku": "http://127.0.0.1:1/jwks.json"},
        {"x5u": "http://127.0.0.1:1/cert.pem"},
        {"jwk": {"kty": "EC"}},
        {"typ": "JWT"},
        {"typ": None},
        {"crit": ["exp"]},
    ],
)
def test_hostile_headers_are_refused(
    ring: KeyRing, verifier: JwtVerifier, clock: FixedClock, header_changes: dict[str, object]
) -> None:
    good = ring.sign(claims(clock))
    header = {"alg": "ES256", "typ": "at+jwt", "kid": ring.active_kid}
    header.update(header_changes)  # type: ignore[arg-type]
    header = {name: value for name, value in header.items() if value is not None}
    _, payload, signature = good.split(".")
    forged = b64url(json.dumps(header).encode()) + "." + payload + "." + signature
    assert verifier.verify(forged) is None


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b.c",
        "a.b.c.d.e",  # the compact form of a JWE
        "x" * 1_000_000,
        "eyJhbGciOiJFUzI1NiJ9." + "A" * 2_000_000 + ".sig",
        base64.b64encode(b"\x00\xff" * 10).decode(),
    ],
)
def test_garbage_is_refused_without_raising(verifier: JwtVerifier, token: str) -> None:
    assert verifier.verify(token) is None


def test_a_tampered_payload_is_refused(ring: KeyRing, verifier: JwtVerifier, clock: FixedClock) -> None:
    header, _, signature = ring.sign(claims(clock)).split(".")
    payload = b64url(json.dumps({**_payload(clock), "sub": "admin"}).encode())
    assert verifier.verify(f"{header}.{payload}.{signature}") is None


@pytest.mark.parametrize("size", [0, 1, 2, 3, 31, 32, 33, 64, 330])
def test_b64url_is_base64url_without_padding(size: int) -> None:
    data = os.urandom(size)
    assert base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii") == b64url(data)


# One token, one encoding: a signature Horus did not write in its own form is refused, even where it verifies.


def _with_signature(token: str, signature: str) -> str:
    return token[: token.rindex(".") + 1] + signature


BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _flip_unused_bit(last: str) -> str:
    """The last character of 64 bytes in base64url carries 2 bits of them; its lowest bit is padding."""
    return BASE64URL[BASE64URL.index(last) ^ 1]


def _high_s_twin(token: str) -> str:
    """The same token with (r, n - s): as valid an ECDSA signature as (r, s), which PyJWT accepts."""
    raw = base64.urlsafe_b64decode(token.rsplit(".", 1)[1] + "==")
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    return _with_signature(token, b64url(r.to_bytes(32, "big") + (P256_ORDER - s).to_bytes(32, "big")))


def test_every_es256_signature_horus_writes_has_the_low_s(ring: KeyRing, clock: FixedClock) -> None:
    for number in range(200):  # an ECDSA signature has the high s half of the time
        token = ring.sign(claims(clock, jti=f"jti-{number}"))
        raw = base64.urlsafe_b64decode(token.rsplit(".", 1)[1] + "==")
        assert int.from_bytes(raw[32:], "big") <= P256_ORDER // 2


def test_a_token_with_the_high_s_twin_of_its_signature_is_refused(
    ring: KeyRing, verifier: JwtVerifier, clock: FixedClock
) -> None:
    token = ring.sign(claims(clock))
    twin = _high_s_twin(token)
    public = jwt.PyJWK(ring.jwks()["keys"][0])
    options = {"verify_exp": False, "verify_iat": False}
    decoded = jwt.decode(twin, public, algorithms=["ES256"], audience=AUDIENCE, options=options)
    assert decoded == jwt.decode(token, public, algorithms=["ES256"], audience=AUDIENCE, options=options)
    assert (True, None) == (verifier.verify(token) is not None, verifier.verify(twin))


@pytest.mark.parametrize(
    "reencode",
    [
        pytest.param(lambda signature: signature + "==", id="padded"),
        pytest.param(lambda signature: signature[:-1] + _flip_unused_bit(signature[-1]), id="unused-bit-set"),
        pytest.param(lambda signature: signature + "A", id="one-character-longer"),
        pytest.param(lambda signature: signature[:-2], id="shorter"),
        pytest.param(lambda signature: signature[:40] + "!" + signature[40:], id="a-character-the-decoder-skips"),
        pytest.param(lambda signature: b64url(bytes(32) + base64.urlsafe_b64decode(signature + "==")[32:]), id="r-0"),
    ],
)
def test_a_token_whose_signature_is_re_encoded_is_refused(
    ring: KeyRing, verifier: JwtVerifier, clock: FixedClock, reencode: Any
) -> None:
    token = ring.sign(claims(clock))
    signature = token.rsplit(".", 1)[1]
    assert verifier.verify(token) is not None
    assert verifier.verify(_with_signature(token, reencode(signature))) is None


def test_an_hs256_token_with_a_padded_signature_is_refused(clock: FixedClock) -> None:
    ring = hs256_key_ring("s" * 40)
    verifier = JwtVerifier(ring, ISSUER, AUDIENCE, clock)
    token = ring.sign(claims(clock))
    assert verifier.verify(token) is not None
    assert verifier.verify(token + "=") is None


# The JWKS is derived from the decrypted private keys, never from the stored public half.


async def test_a_stored_public_key_that_is_not_the_private_keys_is_left_out_of_the_jwks(clock: FixedClock) -> None:
    storage = MemoryStorage()
    encryption = KeyEncryption(b"e" * 32)
    signing = await stored_key_ring(storage, encryption, clock)
    other = encryption.generate(clock.now(), clock.now(), retires_at=clock.now() + timedelta(hours=2))
    intruder = generate_es256_key().public_jwk  # a database writer's own key, under a real kid
    await storage.add_key(replace(other, public_jwk=json.dumps({**intruder, "kid": other.kid})))

    ring = await stored_key_ring(storage, encryption, clock)
    assert [signing.active_kid] == [key["kid"] for key in ring.jwks()["keys"]]
    assert ring.verification_key(other.kid) is None


async def test_a_signing_key_whose_stored_public_key_was_replaced_stops_the_start(clock: FixedClock) -> None:
    storage = MemoryStorage()
    encryption = KeyEncryption(b"e" * 32)
    await stored_key_ring(storage, encryption, clock)
    (stored,) = await storage.list_keys()
    intruder = {**generate_es256_key().public_jwk, "kid": stored.kid}
    tampered = MemoryStorage()
    await tampered.add_key(replace(stored, public_jwk=json.dumps(intruder)))

    with pytest.raises(SigningKeyError, match=f"signing key {stored.kid}: the stored public key is not"):
        await stored_key_ring(tampered, encryption, clock)


async def test_the_published_jwk_is_the_one_derived_from_the_private_key(clock: FixedClock) -> None:
    storage = MemoryStorage()
    encryption = KeyEncryption(b"e" * 32)
    ring = await stored_key_ring(storage, encryption, clock)
    (stored,) = await storage.list_keys()
    derived = encryption.open(stored).public_jwk
    assert [derived] == list(ring.jwks()["keys"])
    assert derived["kid"] == stored.kid
