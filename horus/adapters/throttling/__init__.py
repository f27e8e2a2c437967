"""Failure counters for brute-force throttling."""
