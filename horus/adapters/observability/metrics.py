"""Prometheus metrics, recorded once per request by the request-context middleware.

Label values are bounded: paths are the routes Horus serves (anything else is "other"); tokens
issued are one count, or with client labels on, counted per client for at most MAX_CLIENT_LABELS
clients per process (the rest as "other").

The counts live in plain dicts and lists, read by a collector when /metrics is scraped:
prometheus-client's own counters take a lock and several calls per increment (about 10 us a
request here), which buys nothing in a process whose requests all run on one event loop.

With several worker processes, each publishes a snapshot of its counts every second to a
directory private to the server (SnapshotDirectory); the worker that answers a scrape adds the
others' latest snapshots to its own live counts. prometheus-client's multiprocess mode would do
the same through its own counters, which is the per-request cost avoided above.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from itertools import accumulate
from pathlib import Path

import msgspec
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

LOG = logging.getLogger("horus.metrics")
MAX_CLIENT_LABELS = 200
MAX_CACHED_CHILDREN = 1000
OTHER = "other"
CONTENT_TYPE = CONTENT_TYPE_LATEST
TOKEN_PATHS = frozenset({"/v1/nonspec/oauth2/auth/server", "/v1/oauth/token"})
THROTTLED_CODE = 429001
STORAGE_UNAVAILABLE_CODE = 503001
# Methods count under their own name; anything else a client sends counts as "other" (labels stay bounded).
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "QUERY"})
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

# What one (path, method, status, code) combination counts under: its requests label values,
# its latency path label, and its token-outcome label values (None off the token endpoints).
_Labels = tuple[tuple[str, str, str], str, "tuple[str, str] | None"]


class _Latency:
    __slots__ = ("buckets", "total")

    def __init__(self) -> None:
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.total = 0.0


class MetricsSnapshot(msgspec.Struct, frozen=True):
    """One process's counts, as published to the others; label values in the order of the families' labels."""

    requests: list[tuple[str, str, str, int]] = []
    latency: list[tuple[str, list[int], float]] = []
    token_requests: list[tuple[str, str, int]] = []
    issued: list[tuple[str, int]] = []
    issued_other: int = 0
    throttled: int = 0
    storage_errors: int = 0


class _Totals:
    """Several snapshots added up."""

    def __init__(self, snapshots: Iterable[MetricsSnapshot]) -> None:
        self.requests: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self.latency: dict[str, _Latency] = {}
        self.token_requests: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.issued: defaultdict[str, int] = defaultdict(int)
        self.issued_other = self.throttled = self.storage_errors = 0
        for snapshot in snapshots:
            for path, method, status, count in snapshot.requests:
                self.requests[path, method, status] += count
            for path, buckets, total in snapshot.latency:
                latency = self.latency.setdefault(path, _Latency())
                latency.buckets = [mine + theirs for mine, theirs in zip(latency.buckets, buckets, strict=True)]
                latency.total += total
            for endpoint, outcome, count in snapshot.token_requests:
                self.token_requests[endpoint, outcome] += count
            for client_id, count in snapshot.issued:
                self.issued[client_id] += count
            self.issued_other += snapshot.issued_other
            self.throttled += snapshot.throttled
            self.storage_errors += snapshot.storage_errors


class Metrics(Collector):
    """`client_labels`: count tokens issued per client (HORUS_METRICS_CLIENT_LABELS); off, one count, which names
    no client to whoever reads the metrics. `peers`: the other worker processes' latest snapshots."""

    def __init__(
        self,
        known_paths: frozenset[str],
        client_labels: bool = False,
        peers: Callable[[], Iterable[MetricsSnapshot]] = tuple,
    ) -> None:
        self._known_paths = known_paths
        self._client_labels = client_labels
        self._peers = peers
        self._children: dict[tuple[str, str, int, int | None], _Labels] = {}
        self._requests: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self._latency: defaultdict[str, _Latency] = defaultdict(_Latency)
        self._token_requests: defaultdict[tuple[str, str], int] = defaultdict(int)
        self._issued: dict[str, int] = {}
        self._issued_other = 0
        self._throttled = 0
        self._storage_errors = 0
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(self)

    def _path_label(self, path: str) -> str:
        return path if path in self._known_paths else OTHER

    def observe(
        self, path: str, method: str, status: int, code: int | None, client_id: str | None, seconds: float
    ) -> None:
        labels = self._children.get((path, method, status, code)) or self._labels_for(path, method, status, code)
        self._requests[labels[0]] += 1
        latency = self._latency[labels[1]]
        latency.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        latency.total += seconds
        outcome = labels[2]
        if outcome is not None:
            self._token_requests[outcome] += 1
            if status == 200 and client_id:
                self._count_issued(client_id)
        if code == THROTTLED_CODE:
            self._throttled += 1
        elif code == STORAGE_UNAVAILABLE_CODE:
            self._storage_errors += 1

    def _count_issued(self, client_id: str) -> None:
        """The first MAX_CLIENT_LABELS clients get their own label, every later one counts as "other"."""
        issued = self._issued
        if not self._client_labels:
            self._issued_other += 1
        elif client_id in issued:
            issued[client_id] += 1
        elif len(issued) < MAX_CLIENT_LABELS:
            issued[client_id] = 1
        else:
            self._issued_other += 1

    def _labels_for(self, path: str, method: str, status: int, code: int | None) -> _Labels:
        label = self._path_label(path)
        outcome = (path, str(code if code is not None else status)) if path in TOKEN_PATHS else None
        method_label = method if method in KNOWN_METHODS else OTHER
        labels: _Labels = ((label, method_label, str(status)), label, outcome)
        if len(self._children) < MAX_CACHED_CHILDREN:  # unknown paths and odd methods must not grow it
            self._children[(path, method, status, code)] = labels
        return labels

    def snapshot(self) -> MetricsSnapshot:
        return MetricsSnapshot(
            requests=[(*labels, count) for labels, count in self._requests.items()],
            latency=[(path, list(observed.buckets), observed.total) for path, observed in self._latency.items()],
            token_requests=[(*labels, count) for labels, count in self._token_requests.items()],
            issued=list(self._issued.items()),
            issued_other=self._issued_other,
            throttled=self._throttled,
            storage_errors=self._storage_errors,
        )

    def collect(self) -> Iterator[Metric]:
        """Runs on the event loop (the /metrics handler is async), so no request changes a count meanwhile."""
        totals = _Totals([self.snapshot(), *self._peers()])
        requests = CounterMetricFamily(
            "horus_requests", "HTTP requests by path, method and status", labels=["path", "method", "status"]
        )
        for request_labels, count in totals.requests.items():
            requests.add_metric(list(request_labels), count)
        yield requests
        outcomes = CounterMetricFamily(
            "horus_token_requests",
            "Token requests by endpoint and outcome (six-digit code)",
            labels=["endpoint", "outcome"],
        )
        for outcome_labels, count in totals.token_requests.items():
            outcomes.add_metric(list(outcome_labels), count)
        yield outcomes
        latency = HistogramMetricFamily(
            "horus_request_duration_seconds", "Time spent in Horus per request", labels=["path"]
        )
        bounds = [*(floatToGoString(bound) for bound in LATENCY_BUCKETS), "+Inf"]  # type: ignore[no-untyped-call]
        for path, observed in totals.latency.items():
            cumulative = list(zip(bounds, accumulate(observed.buckets), strict=True))
            latency.add_metric([path], cumulative, observed.total)
        yield latency
        yield CounterMetricFamily(
            "horus_throttled_requests", "Requests refused by brute-force throttling", value=totals.throttled
        )
        yield CounterMetricFamily(
            "horus_storage_errors", "Requests that failed because storage was unreachable", value=totals.storage_errors
        )
        if not self._client_labels:
            yield CounterMetricFamily("horus_tokens_issued", "Tokens issued", value=totals.issued_other)
            return
        issued = CounterMetricFamily("horus_tokens_issued", "Tokens issued per client", labels=["client_id"])
        for client_id, count in totals.issued.items():
            issued.add_metric([client_id], count)
        if totals.issued_other:
            issued.add_metric([OTHER], totals.issued_other)
        yield issued

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class SnapshotDirectory:
    """Where the worker processes of one `horus serve` publish their counts: a directory only its user reads,
    one file per process, replaced whole (os.replace) so that a reader never sees half a file. A worker
    that died leaves its last snapshot, so the server's totals never go back."""

    SUFFIX = ".metrics.json"

    def __init__(self, path: Path, pid: int | None = None) -> None:
        self.path = path
        self._pid = os.getpid() if pid is None else pid
        self._own = path / f"{self._pid}{self.SUFFIX}"

    def publish(self, snapshot: MetricsSnapshot) -> None:
        draft = self.path / f".{self._pid}.draft"
        draft.write_bytes(msgspec.json.encode(snapshot))
        os.replace(draft, self._own)

    def others(self) -> list[MetricsSnapshot]:
        snapshots = []
        for path in self.path.glob(f"*{self.SUFFIX}"):
            if path != self._own:
                with contextlib.suppress(OSError, msgspec.DecodeError):
                    snapshots.append(msgspec.json.decode(path.read_bytes(), type=MetricsSnapshot))
        return snapshots


PUBLISH_SECONDS = 1.0


async def publish_forever(directory: SnapshotDirectory, metrics: Metrics, interval: float = PUBLISH_SECONDS) -> None:
    """A scrape answered by another worker sees this one's counts as of at most `interval` ago."""
    while True:
        await asyncio.sleep(interval)
        try:
            directory.publish(metrics.snapshot())
        except OSError as error:  # a full disk: the next second may do better; requests are not affected
            LOG.warning("metrics snapshot not published: %s", error)
