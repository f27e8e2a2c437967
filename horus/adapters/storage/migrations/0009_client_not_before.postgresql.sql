-- Tokens issued before a client's not_before are inactive at introspection: rotate-secret, disable and
-- (re-)creation set it. A client already stored trusts tokens from the second it was created, as a new one does.
ALTER TABLE clients ADD COLUMN not_before timestamptz;

UPDATE clients SET not_before = date_trunc('second', created_at);
