"""Metrics counts exactly what prometheus-client's own labelled counters counted, within bounded labels."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from horus.adapters.observability.metrics import (
    KNOWN_METHODS,
    LATENCY_BUCKETS,
    MAX_CACHED_CHILDREN,
    MAX_CLIENT_LABELS,
    OTHER,
    STORAGE_UNAVAILABLE_CODE,
    THROTTLED_CODE,
    TOKEN_PATHS,
    Metrics,
    SnapshotDirectory,
)

LEGACY = "/v1/nonspec/oauth2/auth/server"
TOKEN = "/v1/oauth/token"
KNOWN_PATHS = frozenset({LEGACY, TOKEN, "/v1/oauth/introspect", "/health", "/metrics"})


class ReferenceMetrics:
    """The same metrics kept by prometheus-client's own labelled counters and histogram, one .labels() per
    observation (Metrics before commit 84ff4ef, before its counts moved into plain dicts): the reference."""

    def __init__(self, known_paths: frozenset[str]) -> None:
        self._known_paths = known_paths
        self._clients: set[str] = set()
        self.registry = CollectorRegistry(auto_describe=True)
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

    def _client_label(self, client_id: str) -> str:
        if client_id in self._clients:
            return client_id
        if len(self._clients) < MAX_CLIENT_LABELS:
            self._clients.add(client_id)
            return client_id
        return OTHER

    def observe(
        self, path: str, method: str, status: int, code: int | None, client_id: str | None, seconds: float
    ) -> None:
        label = path if path in self._known_paths else OTHER
        self.requests.labels(label, method if method in KNOWN_METHODS else OTHER, str(status)).inc()
        self.latency.labels(label).observe(seconds)
        if path in TOKEN_PATHS:
            self.token_requests.labels(path, str(code if code is not None else status)).inc()
            if status == 200 and client_id:
                self.tokens_issued.labels(self._client_label(client_id)).inc()
        if code == THROTTLED_CODE:
            self.throttled.inc()
        elif code == STORAGE_UNAVAILABLE_CODE:
            self.storage_errors.inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


Observation = tuple[str, str, int, int | None, str | None, float]


def observations(count: int, seed: int, unknown_paths: int = 20) -> list[Observation]:
    chooser = random.Random(seed)
    paths = [*sorted(KNOWN_PATHS), *(f"/no/such/{index}" for index in range(unknown_paths))]
    made: list[Observation] = []
    for _ in range(count):
        made.append(
            (
                chooser.choice(paths),
                chooser.choice(["GET", "POST", "HEAD", "OPTIONS", "BREW"]),
                chooser.choice([200, 200, 200, 400, 401, 404, 405, 413, 429, 500, 503]),
                chooser.choice([None, 200000, 400010, 401122, THROTTLED_CODE, STORAGE_UNAVAILABLE_CODE]),
                chooser.choice([None, "", *(f"client-{index}" for index in range(260))]),
                chooser.random() / 10,
            )
        )
    return made


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(metrics: Metrics | ReferenceMetrics) -> Samples:
    """Every sample by name and labels, less the *_created ones (the time each child was made)."""
    text = metrics.exposition().decode("utf-8")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def families(metrics: Metrics | ReferenceMetrics) -> list[tuple[str, str, str]]:
    text = metrics.exposition().decode("utf-8")
    return sorted(
        (family.name, family.type, family.documentation)
        for family in text_string_to_metric_families(text)
        if not family.name.endswith("_created")
    )


def observe_both(made: list[Observation]) -> tuple[Metrics, ReferenceMetrics]:
    metrics, reference = Metrics(KNOWN_PATHS, client_labels=True), ReferenceMetrics(KNOWN_PATHS)
    for observation in made:
        metrics.observe(*observation)
        reference.observe(*observation)
    return metrics, reference


def assert_same(metrics: Metrics, reference: ReferenceMetrics) -> None:
    assert families(reference) == families(metrics)
    expected, counted = samples(reference), samples(metrics)
    assert expected.keys() == counted.keys()
    for key, value in expected.items():
        assert value == pytest.approx(counted[key]), key  # sums of float latencies may differ in the last bit


def test_the_exposition_counts_what_prometheus_client_counts() -> None:
    assert_same(*observe_both(observations(5000, seed=1)))


def test_the_exposition_counts_what_prometheus_client_counts_once_the_label_cache_is_full() -> None:
    metrics, reference = observe_both(observations(8000, seed=2, unknown_paths=2000))
    assert MAX_CACHED_CHILDREN == len(metrics._children)
    assert_same(metrics, reference)


def test_a_scrape_while_requests_go_on_sees_consistent_counts() -> None:
    metrics = Metrics(KNOWN_PATHS, client_labels=True)
    for index in range(3):
        metrics.observe(LEGACY, "POST", 200, 200000, "svc", 0.001)
        assert float(index + 1) == samples(metrics)[("horus_tokens_issued_total", (("client_id", "svc"),))]


def test_the_cache_never_exceeds_its_bound_however_many_combinations_are_seen() -> None:
    metrics = Metrics(KNOWN_PATHS, client_labels=True)
    sizes = []
    for index in range(3 * MAX_CACHED_CHILDREN):
        metrics.observe(f"/probe/{index}", "GET", 404, None, None, 0.001)
        metrics.observe(TOKEN, f"M{index}", 405, 405000, None, 0.001)
        sizes.append(len(metrics._children))
    assert MAX_CACHED_CHILDREN == max(sizes)
    counted = samples(metrics)
    assert (
        3 * MAX_CACHED_CHILDREN
        == counted[("horus_requests_total", (("method", "GET"), ("path", OTHER), ("status", "404")))]
    )


def test_token_requests_are_counted_per_endpoint_and_outcome() -> None:
    metrics = Metrics(KNOWN_PATHS, client_labels=True)
    metrics.observe(LEGACY, "POST", 200, 200000, "svc", 0.001)
    metrics.observe(LEGACY, "POST", 200, 200000, "svc", 0.001)
    metrics.observe(LEGACY, "POST", 401, 401122, "svc", 0.001)
    metrics.observe(TOKEN, "POST", 429, THROTTLED_CODE, "svc", 0.001)
    metrics.observe(TOKEN, "GET", 405, None, None, 0.001)  # no code: the status stands in
    metrics.observe("/health", "GET", 200, None, None, 0.001)
    counted = samples(metrics)
    token_requests = {
        labels: value for (name, labels), value in counted.items() if name == "horus_token_requests_total"
    }
    assert {
        (("endpoint", LEGACY), ("outcome", "200000")): 2.0,
        (("endpoint", LEGACY), ("outcome", "401122")): 1.0,
        (("endpoint", TOKEN), ("outcome", "429001")): 1.0,
        (("endpoint", TOKEN), ("outcome", "405")): 1.0,
    } == token_requests
    assert (1.0, 0.0) == (counted[("horus_throttled_requests_total", ())], counted[("horus_storage_errors_total", ())])
    assert {(("client_id", "svc"),): 2.0} == {
        labels: value for (name, labels), value in counted.items() if name == "horus_tokens_issued_total"
    }


def test_requests_are_counted_per_path_method_and_status_with_the_latency() -> None:
    metrics = Metrics(KNOWN_PATHS, client_labels=True)
    for seconds in (0.0004, 0.003, 0.003):
        metrics.observe("/health", "GET", 200, None, None, seconds)
    metrics.observe("/health", "HEAD", 200, None, None, 0.0004)
    counted = samples(metrics)
    assert 3.0 == counted[("horus_requests_total", (("method", "GET"), ("path", "/health"), ("status", "200")))]
    assert 1.0 == counted[("horus_requests_total", (("method", "HEAD"), ("path", "/health"), ("status", "200")))]
    assert 4.0 == counted[("horus_request_duration_seconds_count", (("path", "/health"),))]
    assert 2.0 == counted[("horus_request_duration_seconds_bucket", (("le", "0.0005"), ("path", "/health")))]


def test_made_up_methods_are_labelled_other_however_many() -> None:
    metrics = Metrics(KNOWN_PATHS, client_labels=True)
    for index in range(3 * MAX_CACHED_CHILDREN):
        metrics.observe("/health", f"M{index}", 405, None, None, 0.001)
    requests = {labels for (name, labels), _ in samples(metrics).items() if name == "horus_requests_total"}
    assert {(("method", OTHER), ("path", "/health"), ("status", "405"))} == requests


def test_an_unknown_path_is_labelled_other() -> None:
    metrics = Metrics(KNOWN_PATHS, client_labels=True)
    metrics.observe("/no/such/path", "GET", 404, None, None, 0.001)
    metrics.observe("/another/one", "GET", 404, None, None, 0.001)
    text = metrics.exposition().decode("utf-8")
    assert 'horus_requests_total{method="GET",path="other",status="404"} 2.0' in text
    assert "/no/such/path" not in text
    assert "/another/one" not in text


def test_tokens_are_counted_per_client_for_the_first_clients_then_as_other() -> None:
    metrics = Metrics(KNOWN_PATHS, client_labels=True)
    for index in range(MAX_CLIENT_LABELS + 50):
        metrics.observe(TOKEN, "POST", 200, 200000, f"client-{index}", 0.001)
    metrics.observe(TOKEN, "POST", 200, 200000, "client-0", 0.001)  # a labelled client keeps its label
    metrics.observe(TOKEN, "POST", 200, 200000, f"client-{MAX_CLIENT_LABELS}", 0.001)  # a later one stays other
    metrics.observe(TOKEN, "POST", 401, 401122, "client-999", 0.001)  # only issued tokens count
    issued = {
        dict(labels)["client_id"]: value
        for (name, labels), value in samples(metrics).items()
        if name == "horus_tokens_issued_total"
    }
    assert MAX_CLIENT_LABELS + 1 == len(issued)
    assert (2.0, 51.0) == (issued["client-0"], issued[OTHER])
    assert "client-999" not in issued


def test_without_client_labels_tokens_issued_are_one_count_that_names_no_client() -> None:
    metrics = Metrics(KNOWN_PATHS)  # HORUS_METRICS_CLIENT_LABELS is off by default
    metrics.observe(TOKEN, "POST", 200, 200000, "svc-a", 0.001)
    metrics.observe(LEGACY, "POST", 200, 200000, "svc-b", 0.001)
    metrics.observe(LEGACY, "POST", 401, 401122, "svc-c", 0.001)
    text = metrics.exposition().decode("utf-8")
    assert 2.0 == samples(metrics)[("horus_tokens_issued_total", ())]
    assert [] == [client for client in ("svc-a", "svc-b", "svc-c") if client in text]


@pytest.mark.parametrize("client_labels", [True, False], ids=["client labels", "no client labels"])
def test_a_worker_adds_the_other_workers_snapshots_to_its_own_counts(tmp_path: Path, client_labels: bool) -> None:
    """Three workers, each dealt a third of the requests, as the kernel deals connections: the one that answers
    the scrape reports what one process that saw every request would."""
    whole = Metrics(KNOWN_PATHS, client_labels=client_labels)
    answering = SnapshotDirectory(tmp_path, 100)
    workers = [Metrics(KNOWN_PATHS, client_labels=client_labels, peers=answering.others)]
    workers += [Metrics(KNOWN_PATHS, client_labels=client_labels) for _ in range(2)]
    for index, observation in enumerate(observations(3000, seed=3, unknown_paths=30)):
        whole.observe(*observation)
        workers[index % 3].observe(*observation)
    answering.publish(workers[0].snapshot())  # its own file is left out: its live counts stand in
    for pid, worker in zip((101, 102), workers[1:], strict=True):
        SnapshotDirectory(tmp_path, pid).publish(worker.snapshot())
    for metrics in (whole, workers[0]):  # a request after the last snapshot
        metrics.observe(TOKEN, "POST", 200, 200000, "svc", 0.001)
    expected, counted = samples(whole), samples(workers[0])
    assert expected.keys() == counted.keys()
    assert [] == [key for key, value in expected.items() if value != pytest.approx(counted[key])]


def test_a_snapshot_is_replaced_whole_and_a_dead_workers_last_one_still_counts(tmp_path: Path) -> None:
    worker = Metrics(KNOWN_PATHS)
    directory = SnapshotDirectory(tmp_path, 200)
    for count in range(1, 4):
        worker.observe("/health", "GET", 200, None, None, 0.001)
        directory.publish(worker.snapshot())
        [seen] = SnapshotDirectory(tmp_path, 300).others()
        assert [("/health", "GET", "200", count)] == seen.requests
    assert ["200.metrics.json"] == sorted(path.name for path in tmp_path.iterdir())
