"""Time, as a port, so that tests fix it."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware UTC datetime."""
        ...

    def epoch_seconds(self) -> int:
        """Whole seconds since 1970-01-01 UTC: now() as a JWT NumericDate (RFC 7519 section 2)."""
        return int(self.now().timestamp())
