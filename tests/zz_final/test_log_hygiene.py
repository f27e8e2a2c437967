"""Runs last: no log line of the whole run (in-process apps and every server process) holds a secret.

Generated secrets, JWTs and Authorization headers have shapes a regular expression finds; the
imported secrets the tests use are listed by value.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

FORBIDDEN = {
    "generated client secret": re.compile(r"horus_sk_[0-9A-Za-z]{49}"),
    "JWT": re.compile(r"eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]{10,}"),
    "Authorization header": re.compile(r"(?i)\bauthorization[\"']?\s*[:=]|\bBasic [A-Za-z0-9+/=]{8,}"),
    "imported legacy secret": re.compile(r"b3209806-42da-402d-92dc-ab2f3ef8608b|p@ss:w"),
}


def test_no_log_line_holds_a_secret_or_a_token(tmp_path_factory: pytest.TempPathFactory) -> None:
    base = tmp_path_factory.getbasetemp()
    logs = [path for path in base.rglob("*.log") if path.is_file()]
    assert any(path.name == "in-process.log" for path in logs)
    lines = 0
    leaks = []
    for path in logs:
        for number, line in enumerate(path.read_text("utf-8", errors="replace").splitlines(), 1):
            lines += 1
            leaks.extend(
                f"{path.relative_to(base)}:{number}: {name}"
                for name, pattern in FORBIDDEN.items()
                if pattern.search(line)
            )
    print(f"scanned {lines} log lines in {len(logs)} files")
    assert [] == leaks
    assert lines > 0


def test_the_scan_would_find_a_leak(tmp_path: Path) -> None:
    line = '{"message": "horus_sk_' + "A" * 49 + '"}'
    assert FORBIDDEN["generated client secret"].search(line)
    assert FORBIDDEN["JWT"].search("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzdmMifQ.c2lnbmF0dXJlLXBhcnQ")
    assert FORBIDDEN["Authorization header"].search('{"authorization": "x"}')
    assert FORBIDDEN["Authorization header"].search("Basic c3ZjOnNlY3JldA==")
    assert not FORBIDDEN["Authorization header"].search('"path":"/.well-known/oauth-authorization-server"')
