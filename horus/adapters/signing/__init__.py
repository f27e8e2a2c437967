"""JWT signing adapters (PyJWT): key material, the token signer, the verifier and the JWKS."""
