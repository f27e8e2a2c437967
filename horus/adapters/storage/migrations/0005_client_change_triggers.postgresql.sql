-- Every write to the clients table bumps the client revision in its own transaction, whoever makes it:
-- Horus, or an operator's SQL. Instances drop their cached clients when the revision moves.
CREATE FUNCTION horus_client_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE client_changes SET revision = revision + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER clients_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON clients
    FOR EACH STATEMENT EXECUTE FUNCTION horus_client_changed();
