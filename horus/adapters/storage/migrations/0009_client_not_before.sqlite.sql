-- Tokens issued before a client's not_before are inactive at introspection: rotate-secret, disable and
-- (re-)creation set it. A client already stored trusts tokens from the second it was created, as a new one does.
ALTER TABLE clients ADD COLUMN not_before TEXT;

UPDATE clients SET not_before = strftime('%Y-%m-%dT%H:%M:%S+00:00', created_at);
