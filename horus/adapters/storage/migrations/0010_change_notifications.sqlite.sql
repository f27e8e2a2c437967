-- SQLite cannot push: the workers of `horus serve --workers N` read each other's throttling failures from this
-- feed, after the id they read last. Rows of windows that no longer count are purged with the counts.
CREATE TABLE throttle_failures (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    key           TEXT NOT NULL,
    window_number INTEGER NOT NULL,
    failures      INTEGER NOT NULL
);

CREATE TRIGGER throttle_failure_inserted AFTER INSERT ON throttle_counts WHEN NEW.failures > 0 BEGIN
    INSERT INTO throttle_failures (key, window_number, failures) VALUES (NEW.key, NEW.window_number, NEW.failures);
END;

CREATE TRIGGER throttle_failure_counted AFTER UPDATE OF failures ON throttle_counts
    WHEN NEW.failures > OLD.failures BEGIN
    INSERT INTO throttle_failures (key, window_number, failures) VALUES (NEW.key, NEW.window_number, NEW.failures);
END;
