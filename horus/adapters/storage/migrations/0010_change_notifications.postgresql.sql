-- Every instance LISTENs: a client change and a throttling failure are pushed to all of them as they commit.
-- horus_clients carries the changed client's id (empty: the table was truncated); horus_failures carries
-- "<window number> <failures in that window> <key>".
CREATE FUNCTION horus_notify_client() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('horus_clients', '');
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('horus_clients', OLD.client_id);
    ELSE
        PERFORM pg_notify('horus_clients', NEW.client_id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER clients_notified AFTER INSERT OR UPDATE OR DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION horus_notify_client();

CREATE TRIGGER clients_truncated_notified AFTER TRUNCATE ON clients
    FOR EACH STATEMENT EXECUTE FUNCTION horus_notify_client();

CREATE FUNCTION horus_notify_failure() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM pg_notify('horus_failures', NEW.window_number || ' ' || NEW.failures || ' ' || NEW.key);
    RETURN NULL;
END;
$$;

CREATE TRIGGER throttle_failure_inserted AFTER INSERT ON throttle_counts
    FOR EACH ROW WHEN (NEW.failures > 0) EXECUTE FUNCTION horus_notify_failure();

CREATE TRIGGER throttle_failure_counted AFTER UPDATE OF failures ON throttle_counts
    FOR EACH ROW WHEN (NEW.failures > OLD.failures) EXECUTE FUNCTION horus_notify_failure();
