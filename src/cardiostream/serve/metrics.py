"""Prometheus metrics of the server, in a registry of its own (one per app)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """The server's counters, gauges and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.streams = Gauge("cardiostream_streams", "Live streams open now", registry=r)
        self.samples = Counter(
            "cardiostream_samples", "Samples received over WebSocket streams", registry=r
        )
        self.windows = Counter("cardiostream_windows", "Window objects sent", registry=r)
        self.events = Counter("cardiostream_events", "AF event objects sent", registry=r)
        self.hop_latency = Histogram(
            "cardiostream_hop_latency_seconds",
            "From a frame's arrival to its results being sent",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
            registry=r,
        )
        self.batch_size = Histogram(
            "cardiostream_batch_size",
            "Stream pushes processed together in one batch",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=r,
        )
        self.predictions = Counter(
            "cardiostream_predictions", "POST /v1/predict requests answered", registry=r
        )
        self.errors = Counter(
            "cardiostream_errors", "Requests or streams refused or failed", ["kind"], registry=r
        )
        self.alarms = Counter(
            "cardiostream_alarms",
            "Alarms raised, by kind and priority",
            ["kind", "priority"],
            registry=r,
        )
        self.alarm_acks = Counter("cardiostream_alarm_acks", "Alarms acknowledged", registry=r)
        self.engine_restarts = Counter(
            "cardiostream_engine_restarts",
            "Times the engine process died and was started again with its streams",
            registry=r,
        )

    def live_streams(self) -> int:
        """The streams open now, as :attr:`streams` last recorded them."""
        return int(self.registry.get_sample_value("cardiostream_streams") or 0)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
