"""Security adapters: the server key, secret hashing, encryption of signing keys at rest."""
