"""The rules of Horus: entities, use cases and error codes. Imports nothing but the standard library."""
