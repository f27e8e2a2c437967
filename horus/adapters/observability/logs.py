"""Structured JSON log lines through the standard logging module, written off the event loop.

Each record carries the current request id (from a context variable), so every line a
request causes can be found by the x-horus-request-id its caller saw.
"""

from __future__ import annotations

import atexit
import collections
import copy
import logging
import logging.handlers
import sys
import threading
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, BinaryIO, TextIO

import msgspec

request_id_var: ContextVar[str | None] = ContextVar("horus_request_id", default=None)

_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, then the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            line["request_id"] = request_id
        for name, value in record.__dict__.items():
            if name not in _STANDARD_ATTRIBUTES and name != "request_id" and not name.startswith("color_"):
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return msgspec.json.encode(line, enc_hook=str).decode("utf-8")


class _ContextQueueHandler(logging.handlers.QueueHandler):
    """Captures the request id where the record is made (the writer thread cannot see the context)
    and keeps the exception apart from the message, so the formatter can give it its own field."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record = copy.copy(record)
        record.msg = record.getMessage()
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return record


class AccessLine(msgspec.Struct):
    """The per-request line, in the same shape as a formatted record of the horus.access logger."""

    time: str
    level: str
    logger: str
    message: str
    request_id: str
    method: str
    path: str
    status: int
    code: int | None
    client_id: str | None
    latency_ms: float


_MILLISECOND_SUFFIXES = tuple(f".{millisecond:03d}+00:00" for millisecond in range(1000))


class _SecondClock:
    """ISO 8601 UTC time with milliseconds; the text up to the second is made once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def text(self, now: float) -> str:
        # As datetime.fromtimestamp: round to the microsecond first, then isoformat cuts to milliseconds.
        second = int(now)
        micro = round((now - second) * 1_000_000)
        if micro >= 1_000_000:
            second, micro = second + 1, micro - 1_000_000
        if second != self._second:
            self._second = second
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return self._prefix + _MILLISECOND_SUFFIXES[micro // 1000]


# An access line as the request path queues it: (time.time(), request_id, method, path, status, code,
# client_id, latency_ms). The writer thread formats and encodes it.
_AccessFacts = tuple[float, str, str, str, int, "int | None", "str | None", float]


class _LineWriter:
    """Writes log lines from a thread that polls: queueing a line wakes no thread and makes no system call.

    On one busy core, waking a writer per line costs two thread switches per request; polling every
    50 ms lets the writer format a whole burst and write it with one call. Lines are at most 50 ms late.
    Items are the facts of an access line, encoded here a burst at a time, or records formatted here.
    """

    POLL_SECONDS = 0.05

    def __init__(self, stream: TextIO, formatter: logging.Formatter) -> None:
        self._stream = stream
        # Lines are UTF-8 bytes; a UTF-8 stream with a binary buffer (stderr, files) takes them without a decode.
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("_", "-")
        self._binary: BinaryIO | None = getattr(stream, "buffer", None) if encoding in ("utf-8", "utf8") else None
        self._formatter = formatter
        self._clock = _SecondClock()
        self._encoder = msgspec.json.Encoder()
        self._items: collections.deque[_AccessFacts | logging.LogRecord] = collections.deque()
        self._stopping = threading.Event()
        self._draining = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="horus-log-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put_nowait(self, item: _AccessFacts | logging.LogRecord) -> None:  # the QueueHandler's queue interface
        self._items.append(item)

    def _run(self) -> None:
        while not self._stopping.wait(self.POLL_SECONDS):
            self._drain_surviving()
        self._drain_surviving()

    def _drain_surviving(self) -> None:
        try:
            self._drain()
        except Exception:  # the writer must outlive any surprise, or every later line is lost
            self._write(_unformattable("Exception") + b"\n")

    def _drain(self) -> None:
        with self._draining:  # the writer thread and flush() must not interleave their batches
            self._drain_batch()

    def flush(self) -> None:
        """Writes what is queued now, from the calling thread."""
        self._drain()

    def _drain_batch(self) -> None:
        chunks: list[bytes] = []
        access: list[AccessLine] = []
        clock_text = self._clock.text
        while self._items:
            item = self._items.popleft()
            if not isinstance(item, logging.LogRecord):
                now, request_id, method, path, status, code, client_id, latency_ms = item
                line = AccessLine(
                    clock_text(now),
                    "info",
                    ACCESS_LOGGER,
                    "request",
                    request_id,
                    method,
                    path,
                    status,
                    code,
                    client_id,
                    latency_ms,
                )
                access.append(line)
                continue
            if access:  # records and access lines keep the order they were queued in
                chunks.append(self._encoded(access))
                access = []
            chunks.append(self._formatted(item))
        if access:
            chunks.append(self._encoded(access))
        if chunks:
            self._write(b"".join(chunks))

    def _encoded(self, lines: list[AccessLine]) -> bytes:
        try:
            return self._encoder.encode_lines(lines)
        except Exception:  # a line msgspec refuses (a lone surrogate in a path) costs that line only
            return b"".join(self._encoded_one(line) for line in lines)

    def _encoded_one(self, line: AccessLine) -> bytes:
        try:
            return self._encoder.encode(line) + b"\n"
        except Exception as error:
            return _unformattable(type(error).__name__) + b"\n"

    def _formatted(self, record: logging.LogRecord) -> bytes:
        try:
            return self._formatter.format(record).encode("utf-8", "backslashreplace") + b"\n"
        except Exception as error:  # one bad record must not stop the writer, nor vanish unnoticed
            return _unformattable(type(error).__name__) + b"\n"

    def _write(self, data: bytes) -> None:
        try:
            if self._binary is not None:
                self._stream.flush()  # whatever was written to the text layer goes first
                self._binary.write(data)
                self._binary.flush()
            else:
                self._stream.write(data.decode("utf-8"))
                self._stream.flush()
        except (OSError, ValueError):  # a closed or broken stream must not kill the writer
            pass

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()


def _unformattable(error: str) -> bytes:
    problem = {"level": "error", "logger": "horus.logs", "message": "unformattable log record"}
    return msgspec.json.encode({**problem, "error": error})


_writer: _LineWriter | None = None
ACCESS_LOGGER = "horus.access"


def write_access_line(
    request_id: str,
    method: str,
    path: str,
    status: int,
    code: int | None,
    client_id: str | None,
    latency_ms: float,
) -> None:
    """Queues one access line's facts (about 0.2 us); the writer thread encodes a burst of them in one call.
    The logging module would spend ~40 us on a line.

    Without configure_logging (an embedding app, the tests) the line goes through the logging module.
    """
    if _writer is None:
        facts = {"request_id": request_id, "method": method, "path": path, "status": status, "code": code}
        logging.getLogger(ACCESS_LOGGER).info(
            "request", extra={**facts, "client_id": client_id, "latency_ms": latency_ms}
        )
    else:
        _writer.put_nowait((time.time(), request_id, method, path, status, code, client_id, latency_ms))


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Routes every 'horus' logger through the polling writer to one JSON stream (stderr by default)."""
    global _writer
    if _writer is not None:
        _writer.stop()
    _writer = _LineWriter(stream or sys.stderr, JsonFormatter())
    queue_handler = _ContextQueueHandler(_writer)  # type: ignore[arg-type]
    for name in ("horus", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [queue_handler]
        logger.setLevel(level)
        logger.propagate = False
    _writer.start()
    atexit.register(stop_logging)


def flush_logs() -> None:
    """For the end of the application's lifespan: a worker of `horus serve --workers N` is ended by its
    server with the default SIGTERM action, which runs no atexit hook."""
    if _writer is not None:
        _writer.flush()


def stop_logging() -> None:
    global _writer
    if _writer is not None:
        _writer.stop()
        _writer = None
