"""Horus: an OAuth 2.0 client-credentials token service for machine-to-machine authentication."""

__version__ = "0.1.0"
