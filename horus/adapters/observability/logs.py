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
import queue
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

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


class _PollingQueue:
    """A queue whose reader polls: putting a record wakes no thread.

    With a blocking queue every log line hands the GIL to the writer thread and back (two
    thread switches per request on a single core); polling every 50 ms lets the writer
    drain a whole burst at once. Lines reach the stream at most 50 ms late.
    """

    POLL_SECONDS = 0.05

    def __init__(self) -> None:
        self._items: collections.deque[logging.LogRecord] = collections.deque()

    def put_nowait(self, item: logging.LogRecord) -> None:
        self._items.append(item)

    def get(self, block: bool = True) -> logging.LogRecord:
        while True:
            try:
                return self._items.popleft()
            except IndexError:
                if not block:
                    raise queue.Empty from None
                time.sleep(self.POLL_SECONDS)


_listener: logging.handlers.QueueListener | None = None


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Routes every 'horus' logger through a queue to one JSON stream handler (stderr by default)."""
    global _listener
    if _listener is not None:
        _listener.stop()
    output = logging.StreamHandler(stream or sys.stderr)
    output.setFormatter(JsonFormatter())
    log_queue = _PollingQueue()
    queue_handler = _ContextQueueHandler(log_queue)
    for name in ("horus", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [queue_handler]
        logger.setLevel(level)
        logger.propagate = False
    _listener = logging.handlers.QueueListener(log_queue, output)
    _listener.start()
    atexit.register(stop_logging)


def stop_logging() -> None:
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None
