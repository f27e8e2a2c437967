"""The JSON log writer: access-line facts queued on the request path, then encoded by the writer thread."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from horus.adapters.observability import logs
from horus.adapters.observability.logs import (
    JsonFormatter,
    _SecondClock,
    configure_logging,
    stop_logging,
    write_access_line,
)

ACCESS_FIELDS = [
    "time",
    "level",
    "logger",
    "message",
    "request_id",
    "method",
    "path",
    "status",
    "code",
    "client_id",
    "latency_ms",
]
CONFIGURED_LOGGERS = ("horus", "uvicorn.error")


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """configure_logging to a StringIO; afterwards the loggers are as they were (conftest's in-process log)."""
    saved = {}
    for name in CONFIGURED_LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = (logger.handlers[:], logger.level, logger.propagate)
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    try:
        yield stream
    finally:
        stop_logging()
        for name, (handlers, level, propagate) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate


def written(stream: io.StringIO) -> list[dict[str, Any]]:
    """Stops the writer (which flushes it) and parses every line."""
    stop_logging()
    text = stream.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text[:-1].split("\n")]  # JSON lines: split on \n only


def at_time(monkeypatch: pytest.MonkeyPatch, now: float) -> None:
    monkeypatch.setattr(logs, "time", SimpleNamespace(time=lambda: now))


def formatted_record_time(now: float) -> str:
    record = logging.LogRecord("horus.x", logging.INFO, __file__, 1, "m", None, None)
    record.created = now
    time: str = json.loads(JsonFormatter().format(record))["time"]
    return time


def test_an_access_line_is_one_json_line_with_exactly_the_access_fields(
    log_stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    at_time(monkeypatch, 1700000000.25)
    write_access_line("rid-1", "POST", "/v1/oauth/token", 200, 200000, "svc", 1.234)
    assert [
        {
            "time": "2023-11-14T22:13:20.250+00:00",
            "level": "info",
            "logger": "horus.access",
            "message": "request",
            "request_id": "rid-1",
            "method": "POST",
            "path": "/v1/oauth/token",
            "status": 200,
            "code": 200000,
            "client_id": "svc",
            "latency_ms": 1.234,
        }
    ] == written(log_stream)


def test_an_access_line_without_code_or_client_has_them_as_null(log_stream: io.StringIO) -> None:
    write_access_line("rid-2", "GET", "/nowhere", 404, None, None, 0.5)
    [line] = written(log_stream)
    assert ACCESS_FIELDS == list(line)
    assert (None, None) == (line["code"], line["client_id"])


def test_a_path_with_a_newline_stays_on_one_line(log_stream: io.StringIO) -> None:
    write_access_line("rid-3", "GET", "/a\nb\u2028c", 404, None, None, 0.5)
    [line] = written(log_stream)
    assert "/a\nb\u2028c" == line["path"]


def test_an_access_line_is_what_json_formatter_makes_of_the_same_access_record(
    log_stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = 1700000000.5
    at_time(monkeypatch, now)
    fields = {
        "request_id": "rid-4",
        "method": "POST",
        "path": "/v1/nonspec/oauth2/auth/server",
        "status": 401,
        "code": 401122,
        "client_id": "svc",
        "latency_ms": 0.75,
    }
    write_access_line(**fields)  # type: ignore[arg-type]
    record = logging.LogRecord("horus.access", logging.INFO, __file__, 1, "request", None, None)
    record.created = now
    record.__dict__.update(fields)
    expected = json.loads(JsonFormatter().format(record))
    [line] = written(log_stream)
    assert (expected, list(expected)) == (line, list(line))


@pytest.mark.parametrize(
    "now",
    [1700000000.0, 1700000000.25, 1700000000.5, 1700000000.999, 1700000001.0005, 1700000001.9995, 1700000059.75],
)
def test_the_access_time_matches_json_formatter(now: float) -> None:
    assert formatted_record_time(now) == _SecondClock().text(now)


@pytest.mark.parametrize("now", [1700000000.123, 1700077747.5509996, 1700000000.9999996])
def test_the_access_time_matches_json_formatter_when_the_float_falls_just_short(now: float) -> None:
    """Rounded to the microsecond first, as datetime does: 1700000000.123 is 1700000000.12299999..."""
    assert formatted_record_time(now) == _SecondClock().text(now)


def test_the_second_clock_is_right_across_second_boundaries() -> None:
    clock = _SecondClock()
    times = [1700000000.999, 1700000001.0005, 1700000001.5, 1700000002.0, 1700000000.25, 1700000059.999, 1700000060.0]
    assert [
        "2023-11-14T22:13:20.999+00:00",
        "2023-11-14T22:13:21.000+00:00",
        "2023-11-14T22:13:21.500+00:00",
        "2023-11-14T22:13:22.000+00:00",
        "2023-11-14T22:13:20.250+00:00",
        "2023-11-14T22:14:19.999+00:00",
        "2023-11-14T22:14:20.000+00:00",
    ] == [clock.text(now) for now in times]


def test_access_lines_and_records_come_out_in_the_order_they_were_queued(log_stream: io.StringIO) -> None:
    other = logging.getLogger("horus.x")
    expected = []
    for index in range(300):
        if index % 3 == 0:
            other.warning("record %d", index)
            expected.append(("horus.x", f"record {index}"))
        else:
            write_access_line(f"rid-{index}", "POST", "/v1/oauth/token", 200, 200000, "svc", 1.0)
            expected.append(("horus.access", f"rid-{index}"))
    lines = written(log_stream)
    assert expected == [
        (line["logger"], line["request_id"] if line["logger"] == "horus.access" else line["message"]) for line in lines
    ]


def test_stop_logging_writes_everything_queued(log_stream: io.StringIO) -> None:
    for index in range(5000):
        write_access_line(f"rid-{index}", "POST", "/v1/oauth/token", 200, 200000, "svc", 1.0)
    logging.getLogger("horus.x").error("last")
    lines = written(log_stream)  # at once: well within the writer's 50 ms poll
    assert 5001 == len(lines)
    assert ("rid-4999", "last") == (lines[-2]["request_id"], lines[-1]["message"])


def test_nothing_is_queued_once_logging_is_stopped(log_stream: io.StringIO) -> None:
    stop_logging()
    before = log_stream.getvalue()
    write_access_line("rid-late", "GET", "/health", 200, None, None, 0.1)
    assert before == log_stream.getvalue()


def test_without_the_writer_an_access_line_goes_through_the_logging_module(log_stream: io.StringIO) -> None:
    stop_logging()
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    access = logging.getLogger("horus.access")
    access.addHandler(handler)
    try:
        write_access_line("rid-plain", "POST", "/v1/oauth/token", 401, 401122, "svc", 0.5)
    finally:
        access.removeHandler(handler)
    [record] = records
    assert ("request", "rid-plain", 401, 401122, "svc", 0.5) == (
        record.getMessage(),
        record.request_id,  # type: ignore[attr-defined]
        record.status,  # type: ignore[attr-defined]
        record.code,  # type: ignore[attr-defined]
        record.client_id,  # type: ignore[attr-defined]
        record.latency_ms,  # type: ignore[attr-defined]
    )


def test_a_stream_with_a_binary_buffer_gets_the_lines_as_bytes_after_what_its_text_layer_holds(
    log_stream: io.StringIO,  # for the loggers' restoration afterwards
) -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8", line_buffering=False)
    stream.write("written before\n")  # still in the text layer's own buffer
    configure_logging("INFO", stream=stream)
    write_access_line("rid-bytes", "GET", "/caf\u00e9", 404, None, None, 0.5)
    logging.getLogger("horus.x").warning("after \u2028 it")
    stop_logging()
    first, access, record, end = raw.getvalue().decode("utf-8").split("\n")
    assert ("written before", "", "/caf\u00e9", "after \u2028 it") == (
        first,
        end,
        json.loads(access)["path"],
        json.loads(record)["message"],
    )


def test_an_access_line_msgspec_refuses_costs_that_line_only_and_the_writer_goes_on(log_stream: io.StringIO) -> None:
    write_access_line("rid-before", "GET", "/a", 404, None, None, 0.5)
    write_access_line("rid-bad", "GET", "/\udcff", 404, None, None, 0.5)  # a lone surrogate: not UTF-8
    write_access_line("rid-after", "GET", "/b", 404, None, None, 0.5)
    logs._writer.flush()  # type: ignore[union-attr]
    write_access_line("rid-later", "GET", "/c", 404, None, None, 0.5)
    lines = written(log_stream)
    assert [("rid-before", None), (None, "UnicodeEncodeError"), ("rid-after", None), ("rid-later", None)] == [
        (line.get("request_id"), line.get("error")) for line in lines
    ]


def test_a_stream_in_another_encoding_gets_text_in_its_own_encoding(log_stream: io.StringIO) -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="latin-1", errors="backslashreplace")
    configure_logging("INFO", stream=stream)
    write_access_line("rid-latin", "GET", "/caf\u00e9", 404, None, None, 0.5)
    stop_logging()
    assert "/caf\u00e9" == json.loads(raw.getvalue().decode("latin-1"))["path"]
