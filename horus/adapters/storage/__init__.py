"""Storage adapters: each implements ClientRepository and SigningKeyRepository."""
