"""The sliding-window estimate shared by every failure counter: two fixed windows, the older one weighted."""

from __future__ import annotations


def window_number(now: float, window_seconds: float) -> int:
    return int(now // window_seconds)


def sliding_estimate(counts: dict[int, int], now: float, window_seconds: float) -> float:
    """counts maps window numbers to failures; only the current and the previous window matter."""
    current = window_number(now, window_seconds)
    overlap = 1.0 - (now % window_seconds) / window_seconds
    return counts.get(current, 0) + counts.get(current - 1, 0) * overlap
