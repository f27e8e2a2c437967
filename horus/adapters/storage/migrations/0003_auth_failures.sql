-- Failed authentications per key (clientId or address) per fixed window, for throttling shared by processes.
CREATE TABLE auth_failures (
    key           TEXT NOT NULL,
    window_number BIGINT NOT NULL,
    failures      INTEGER NOT NULL,
    PRIMARY KEY (key, window_number)
);

CREATE INDEX auth_failures_window ON auth_failures (window_number);
