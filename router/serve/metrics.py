"""The server's Prometheus metrics, in a registry of its own (none at import time).

Compute is counted from each answer's cost ledger (every round included), so the counters
add up to what the router spent, per request; batches are counted separately, which
shows how much the micro-batcher shares.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from router.records import AnswerRecord

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServeMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "ttc_requests", "Chat completion requests by HTTP status", ["status"], registry=r
        )
        self.in_flight = Gauge(
            "ttc_requests_in_flight", "Chat requests admitted and not yet answered", registry=r
        )
        self.latency = Histogram(
            "ttc_request_latency_seconds",
            "Time from a chat request's arrival to its answer",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.answers = Counter(
            "ttc_answers",
            "Router answers by status (ok, no_answer, failed)",
            ["status"],
            registry=r,
        )
        self.generations = Counter(
            "ttc_generations", "Full-solution generations spent, every round included", registry=r
        )
        self.tokens = Counter("ttc_generated_tokens", "Tokens generated", registry=r)
        self.prompt_tokens = Counter(
            "ttc_prompt_tokens",
            "Prompt tokens the generations read (usage.prompt_tokens)",
            registry=r,
        )
        self.verifier_tokens = Counter(
            "ttc_verifier_tokens", "Tokens scored by the verifier", registry=r
        )
        self.flops = Counter("ttc_flops", "Estimated FLOPs, generator plus verifier", registry=r)
        self.choices = Counter(
            "ttc_strategy_choices",
            "Strategy and budget the router chose",
            ["strategy", "budget"],
            registry=r,
        )
        self.batches = Counter(
            "ttc_batches", "Micro-batches solved, by budget policy", ["policy"], registry=r
        )
        self.batch_size = Histogram(
            "ttc_batch_size", "Requests per micro-batch", buckets=BATCH_BUCKETS, registry=r
        )
        self.batch_seconds = Histogram(
            "ttc_batch_seconds",
            "Time Router.solve took per micro-batch",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def observe_request(self, status: int, seconds: float) -> None:
        self.requests.labels(status=str(status)).inc()
        self.latency.observe(seconds)

    def observe_batch(self, policy: str, size: int) -> None:
        self.batches.labels(policy=policy).inc()
        self.batch_size.observe(size)

    def observe_record(self, record: AnswerRecord, prompt_tokens: int = 0) -> None:
        self.answers.labels(status=record.status).inc()
        self.prompt_tokens.inc(prompt_tokens)
        self.generations.inc(record.compute.generations)
        self.tokens.inc(record.cost.generated_tokens)
        self.verifier_tokens.inc(record.cost.verifier_tokens)
        self.flops.inc(record.cost.total_flops)
        if record.strategy is not None:
            self.choices.labels(strategy=record.strategy, budget=str(record.budget)).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
