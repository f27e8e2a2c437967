-- Times as timestamptz, ordered and compared as times (as TEXT they compared right only while every value was
-- written in UTC), and the encrypted signing keys as bytea instead of base64 text. The old text parses as it is:
-- ISO 8601 with its offset, and standard base64.
ALTER TABLE clients
    ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz,
    ALTER COLUMN updated_at TYPE timestamptz USING updated_at::timestamptz;

ALTER TABLE signing_keys
    ALTER COLUMN encrypted_private_key TYPE bytea USING decode(encrypted_private_key, 'base64'),
    ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz,
    ALTER COLUMN activates_at TYPE timestamptz USING activates_at::timestamptz,
    ALTER COLUMN retires_at TYPE timestamptz USING retires_at::timestamptz;
