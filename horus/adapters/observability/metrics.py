"""Prometheus metrics, recorded once per request by the request-context middleware.

Label values are bounded: paths are the routes Horus serves (anything else is "other") and
tokens are counted per client for at most MAX_CLIENT_LABELS clients (the rest as "other").
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

MAX_CLIENT_LABELS = 200
MAX_CACHED_CHILDREN = 1000
OTHER = "other"
CONTENT_TYPE = CONTENT_TYPE_LATEST
TOKEN_PATHS = frozenset({"/v1/nonspec/oauth2/auth/server", "/v1/oauth/token"})
THROTTLED_CODE = 429001
STORAGE_UNAVAILABLE_CODE = 503001
_Children = tuple[Any, Any, Any]  # prometheus-client's labelled children are untyped
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self, known_paths: frozenset[str]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._known_paths = known_paths
        self._children: dict[tuple[str, str, int, int | None], _Children] = {}
        self._issued: dict[str, Any] = {}
        self._issued_other: Any = None
        self.requests = Counter(
            "horus_requests",
            "HTTP requests by path, method and status",
            ["path", "method", "status"],
            registry=self.registry,
        )
        self.token_requests = Counter(
            "horus_token_requests",
            "Token requests by endpoint and outcome (six-digit code)",
            ["endpoint", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "horus_request_duration_seconds",
            "Time spent in Horus per request",
            ["path"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.throttled = Counter(
            "horus_throttled_requests", "Requests refused by brute-force throttling", registry=self.registry
        )
        self.storage_errors = Counter(
            "horus_storage_errors", "Requests that failed because storage was unreachable", registry=self.registry
        )
        self.tokens_issued = Counter(
            "horus_tokens_issued", "Tokens issued per client", ["client_id"], registry=self.registry
        )

    def _path_label(self, path: str) -> str:
        return path if path in self._known_paths else OTHER

    def _issued_child(self, client_id: str) -> Any:
        """The first MAX_CLIENT_LABELS clients get their own label, every later one counts as "other"."""
        if len(self._issued) < MAX_CLIENT_LABELS:
            child = self._issued[client_id] = self.tokens_issued.labels(client_id)
            return child
        if self._issued_other is None:
            self._issued_other = self.tokens_issued.labels(OTHER)
        return self._issued_other

    def observe(
        self, path: str, method: str, status: int, code: int | None, client_id: str | None, seconds: float
    ) -> None:
        key = (path, method, status, code)
        children = self._children.get(key)
        if children is None:
            children = self._children_for(path, method, status, code)
        request_counter, latency, outcome_counter = children
        request_counter.inc()
        latency.observe(seconds)
        if outcome_counter is not None:
            outcome_counter.inc()
            if status == 200 and client_id:
                (self._issued.get(client_id) or self._issued_child(client_id)).inc()
        if code == THROTTLED_CODE:
            self.throttled.inc()
        elif code == STORAGE_UNAVAILABLE_CODE:
            self.storage_errors.inc()

    def _children_for(self, path: str, method: str, status: int, code: int | None) -> _Children:
        """Labelled children are looked up once per label combination: .labels() costs microseconds per call."""
        label = self._path_label(path)
        outcome = None
        if path in TOKEN_PATHS:
            outcome = self.token_requests.labels(path, str(code if code is not None else status))
        children = (self.requests.labels(label, method, str(status)), self.latency.labels(label), outcome)
        if len(self._children) < MAX_CACHED_CHILDREN:  # unknown paths and odd methods must not grow it
            self._children[(path, method, status, code)] = children
        return children

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
