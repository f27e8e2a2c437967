-- One number that every client insert, update and delete increases in the same transaction. Instances keep
-- clients cached while it stays the same, and read it every HORUS_CLIENT_CACHE_TTL seconds.
CREATE TABLE client_changes (
    id       INTEGER PRIMARY KEY,
    revision BIGINT NOT NULL
);

INSERT INTO client_changes (id, revision) VALUES (1, 0);
