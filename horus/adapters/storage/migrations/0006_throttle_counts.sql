-- Throttling counts shared by processes, per key (clientId at an address, clientId, address) and fixed window:
-- the failures, and the attempts in flight (reserved before verification, taken back when they end).
CREATE TABLE throttle_counts (
    key           TEXT NOT NULL,
    window_number BIGINT NOT NULL,
    failures      INTEGER NOT NULL,
    in_flight     INTEGER NOT NULL,
    PRIMARY KEY (key, window_number)
);

CREATE INDEX throttle_counts_window ON throttle_counts (window_number);

DROP TABLE auth_failures;
