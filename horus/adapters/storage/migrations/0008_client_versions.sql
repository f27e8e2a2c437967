-- Every client write checks the version it read and stores the next one (optimistic concurrency): of two
-- administrators changing one client at once, the later reads again and re-applies its change instead of
-- overwriting the earlier one unseen.
ALTER TABLE clients ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
