"""The sliding-window estimate shared by every failure counter: two fixed windows, the older one weighted."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def window_number(now: float, window_seconds: float) -> int:
    return int(now // window_seconds)


def sliding_estimate(counts: dict[int, int], now: float, window_seconds: float) -> float:
    """counts maps window numbers to failures; only the current and the previous window matter."""
    current = window_number(now, window_seconds)
    overlap = 1.0 - (now % window_seconds) / window_seconds
    return counts.get(current, 0) + counts.get(current - 1, 0) * overlap


def estimates_from_rows(
    keys: Sequence[str], rows: Iterable[Sequence[Any]], now: float, window_seconds: float
) -> list[float]:
    """(key, window number, failures) rows, as the SQL counters read them, into one estimate per key."""
    counts: dict[str, dict[int, int]] = {key: {} for key in keys}
    for key, number, failures in rows:
        counts[key][number] = failures
    return [sliding_estimate(counts[key], now, window_seconds) for key in keys]
