"""Reports the size of the schemathesis run, so that it can be quoted without re-running it.

Printed in the terminal summary and kept in the pytest cache (`pytest --cache-show 'horus/*'`).
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict

import pytest

MODULE = "tests.contract.test_schemathesis"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    cases: Counter[tuple[str, str, str, str, int]] | None = getattr(sys.modules.get(MODULE), "CASES", None)
    if not cases:
        return
    reports = [
        report
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if "test_schemathesis.py" in report.nodeid
    ]
    seconds = sum(report.duration for report in reports)
    failed = sum(1 for report in reports if report.failed)
    total = sum(cases.values())
    by_mode: Counter[str] = Counter()
    by_path: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for (method, path, phase, mode, status), count in cases.items():
        by_mode[f"{phase}/{mode}"] += count
        by_path[path][f"{method} {status}"] += count
    terminalreporter.write_sep("-", f"schemathesis: {total} cases in {seconds:.1f} s, {failed} failed operations")
    terminalreporter.write_line("  " + ", ".join(f"{name} {count}" for name, count in sorted(by_mode.items())))
    for path, statuses in sorted(by_path.items()):
        terminalreporter.write_line(f"  {path}: " + ", ".join(f"{key}={n}" for key, n in sorted(statuses.items())))
    cache = getattr(config, "cache", None)  # absent under -p no:cacheprovider
    if cache is not None:
        cache.set(
            "horus/schemathesis",
            {
                "cases": total,
                "seconds": round(seconds, 1),
                "failed_operations": failed,
                "by_phase_and_mode": dict(sorted(by_mode.items())),
                "by_path": {path: dict(sorted(statuses.items())) for path, statuses in sorted(by_path.items())},
            },
        )
