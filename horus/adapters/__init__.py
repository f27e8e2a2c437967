"""Adapters: the ports implemented against real technology (Litestar, SQLite, PyJWT, argon2), and the drivers."""
