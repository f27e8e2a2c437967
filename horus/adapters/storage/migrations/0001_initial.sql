-- Clients and signing keys. Portable SQL: the same file runs on SQLite and PostgreSQL.
CREATE TABLE clients (
    client_id   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    enabled     INTEGER NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE signing_keys (
    kid                   TEXT PRIMARY KEY,
    algorithm             TEXT NOT NULL,
    encrypted_private_key TEXT NOT NULL,
    public_jwk            TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    activates_at          TEXT NOT NULL,
    retires_at            TEXT
);
