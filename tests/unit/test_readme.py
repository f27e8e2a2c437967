"""The README's error-code table is a copy of the HTTP adapter's error table; this keeps the copy true."""

from __future__ import annotations

from pathlib import Path

from horus.adapters.http.error_table import ERROR_TABLE

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_error_table_matches_the_error_table() -> None:
    text = README.read_text("utf-8")
    section = text.split("<!-- error-table:start -->")[1].split("<!-- error-table:end -->")[0]
    rows = section.strip().splitlines()[2:]
    expected = [f"| {row.code} | {row.status} | {row.oauth_error or '-'} | {row.meaning} |" for row in ERROR_TABLE]
    assert expected == rows
