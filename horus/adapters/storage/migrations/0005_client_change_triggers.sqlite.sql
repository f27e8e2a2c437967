-- Every write to the clients table bumps the client revision in its own transaction, whoever makes it:
-- Horus, or an operator's SQL. Instances drop their cached clients when the revision moves.
CREATE TRIGGER clients_inserted AFTER INSERT ON clients BEGIN
    UPDATE client_changes SET revision = revision + 1 WHERE id = 1;
END;

CREATE TRIGGER clients_updated AFTER UPDATE ON clients BEGIN
    UPDATE client_changes SET revision = revision + 1 WHERE id = 1;
END;

CREATE TRIGGER clients_deleted AFTER DELETE ON clients BEGIN
    UPDATE client_changes SET revision = revision + 1 WHERE id = 1;
END;
