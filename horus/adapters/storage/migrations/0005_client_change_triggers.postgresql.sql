-- Every write to the clients table bumps the client revision in its own transaction, whoever makes it:
-- Horus, or an operator's SQL. Instances drop their cached clients when the revision moves.
-- The function keeps the schema it was created in, whatever search_path the writer's session has.
CREATE FUNCTION horus_client_changed() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE client_changes SET revision = revision + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

-- Per row, so a write that changes nothing (an unknown client) leaves every cache alone.
CREATE TRIGGER clients_changed AFTER INSERT OR UPDATE OR DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION horus_client_changed();

CREATE TRIGGER clients_truncated AFTER TRUNCATE ON clients
    FOR EACH STATEMENT EXECUTE FUNCTION horus_client_changed();
