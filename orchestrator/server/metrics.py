"""Prometheus metrics of `remediate serve` (one registry per app, text format via the standard client)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _QueueCollector(Collector):
    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("remediate_requests", "Requests in the store by status", labels=["status"])
        for status, n in sorted(self.counts().items()):
            family.add_metric([status], n)
        yield family


class Metrics:
    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry()
        self.alerts = Counter("remediate_alert_requests_total", "Requests received in alert payloads",
                              ["kind", "outcome"], registry=self.registry)
        self.runs = Counter("remediate_runs_total", "Requests run by the workers, by final status", ["status"],
                            registry=self.registry)
        self.auth_failures = Counter("remediate_auth_failures_total", "Requests refused with 401",
                                     registry=self.registry)
        self.run_seconds = Histogram("remediate_run_seconds", "Duration of a remediation run",
                                     buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800), registry=self.registry)
        self.registry.register(_QueueCollector(counts))
        self._alert_series: dict[tuple[str, str], Counter] = {}  # (kind, outcome) -> its child of `alerts`

    def alert(self, kind: str, outcome: str) -> None:
        """Count one request of an alert. The labelled child is looked up once per (kind, outcome): labels() is
        the same child every time, but it validates and locks on each call (every alert of the intake)."""
        series = self._alert_series.get((kind, outcome))
        if series is None:
            series = self._alert_series[(kind, outcome)] = self.alerts.labels(kind=kind, outcome=outcome)
        series.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
