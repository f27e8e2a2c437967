"""The Litestar HTTP adapter: translates between HTTP and the domain, nothing more."""
