"""``/metrics`` in Prometheus' text format, every name prefixed ``successcrew_``.

Two sources: the crew's figures, read from the database on each scrape (runs, last success,
trigger events, outbox depth and dead letters, survey answers, component health), and this
process's counters of inbound traffic (webhook events by provider and outcome, signature
failures, Slack interactions, unsubscribes). With several uvicorn workers the counters use
prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by ``serve``). Labels
are bounded: providers, outcomes, statuses, trigger codes, component names.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from successcrew.services.platform.operations import crew_figures

log = logging.getLogger("successcrew.web")

WEBHOOK_EVENTS = Counter(
    "successcrew_webhook_events",
    "Provider events received, by provider and outcome (stored, duplicate, ignored)",
    ["provider", "outcome"],
    registry=None,
)
SIGNATURE_FAILURES = Counter(
    "successcrew_signature_failures",
    "Inbound requests refused because their signature did not verify",
    ["provider"],
    registry=None,
)
SLACK_INTERACTIONS = Counter(
    "successcrew_slack_interactions",
    "Slack button clicks, by outcome (decided, not_allowed, final, ignored)",
    ["outcome"],
    registry=None,
)
SURVEY_ANSWERS = Counter(
    "successcrew_survey_answers_received",
    "Survey answers recorded by this server, by channel",
    ["channel"],
    registry=None,
)
UNSUBSCRIBES = Counter(
    "successcrew_unsubscribes_received",
    "One-click unsubscribe requests, by whether they changed anything",
    ["changed"],
    registry=None,
)
PRODUCT_EVENTS = Counter(
    "successcrew_product_events",
    "Segment-compatible calls received, by outcome (stored, duplicate, dropped)",
    ["outcome"],
    registry=None,
)
PRODUCT_EVENTS_DROPPED = Counter(
    "successcrew_product_events_dropped",
    "Segment-compatible calls acknowledged but not used, by reason (identify_without_user_or_"
    "email, track_account_unknown, event_not_mapped, ...)",
    ["reason"],
    registry=None,
)
COUNTERS = (
    PRODUCT_EVENTS_DROPPED,
    WEBHOOK_EVENTS,
    SIGNATURE_FAILURES,
    SLACK_INTERACTIONS,
    SURVEY_ANSWERS,
    UNSUBSCRIBES,
    PRODUCT_EVENTS,
)


class WebMetrics:
    """What the endpoints count."""

    def webhook_events(self, provider: str, outcome: str, n: int = 1) -> None:
        """Count ``n`` events of ``provider`` with ``outcome``."""
        if n:
            WEBHOOK_EVENTS.labels(provider, outcome).inc(n)

    def signature_failure(self, provider: str) -> None:
        """Count one refused signature."""
        SIGNATURE_FAILURES.labels(provider).inc()

    def slack_interaction(self, outcome: str) -> None:
        """Count one Slack click."""
        SLACK_INTERACTIONS.labels(outcome).inc()

    def survey_answer(self, channel: str) -> None:
        """Count one recorded survey answer."""
        SURVEY_ANSWERS.labels(channel if channel in ("email", "in_app") else "other").inc()

    def unsubscribe(self, changed: bool) -> None:
        """Count one unsubscribe request."""
        UNSUBSCRIBES.labels("yes" if changed else "no").inc()

    def product_events(self, outcome: str, n: int) -> None:
        """Count ``n`` Segment calls with ``outcome``."""
        if n:
            PRODUCT_EVENTS.labels(outcome).inc(n)

    def product_events_dropped(self, reasons: dict[str, int]) -> None:
        """Count dropped Segment calls by reason (a fixed set: the plan's and the store's)."""
        for reason, n in reasons.items():
            if n:
                PRODUCT_EVENTS_DROPPED.labels(reason).inc(n)


class CrewCollector(Collector):
    """The database's figures, read on every scrape; a failing read sets ``successcrew_db_up``
    to 0 instead of breaking the scrape."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def describe(self) -> list[Any]:
        """Nothing: describing would run a scrape when the collector is registered."""
        return []

    def collect(self) -> Iterator[Any]:
        """One scrape's worth of figures."""
        up = GaugeMetricFamily("successcrew_db_up", "1 when the database answered this scrape")
        try:
            figures = crew_figures(self.engine, now=self.clock())
        except Exception as exc:
            log.warning("metrics: the database did not answer (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        runs = CounterMetricFamily("successcrew_runs", "Crew runs by status", labels=["status"])
        for status, n in sorted(figures.runs.items()):
            runs.add_metric([status], n)
        yield runs
        if figures.last_success_at is not None:
            yield GaugeMetricFamily(
                "successcrew_last_success_timestamp_seconds",
                "Unix time the last successful run finished",
                value=figures.last_success_at.timestamp(),
            )
        if figures.last_run_seconds is not None:
            yield GaugeMetricFamily(
                "successcrew_run_duration_seconds",
                "How long the last successful run took",
                value=figures.last_run_seconds,
            )
        triggers = CounterMetricFamily(
            "successcrew_trigger_events", "Trigger events fired, by code", labels=["code"]
        )
        for code, n in sorted(figures.trigger_events.items()):
            triggers.add_metric([code], n)
        yield triggers
        outbox = GaugeMetricFamily(
            "successcrew_outbox_messages",
            "Outbox messages by channel and state (pending, sending, held, delivered, dead)",
            labels=["channel", "status"],
        )
        dead = 0
        for (channel, status), n in sorted(figures.outbox.items()):
            outbox.add_metric([channel, status], n)
            dead += n if status == "dead" else 0
        yield outbox
        yield GaugeMetricFamily(
            "successcrew_outbox_dead_letters", "Outbox messages given up on", value=dead
        )
        answers = CounterMetricFamily(
            "successcrew_survey_responses",
            "Survey invitations answered, by kind and channel",
            labels=["kind", "channel"],
        )
        for (kind, channel), n in sorted(figures.survey_responses.items()):
            answers.add_metric([kind, channel], n)
        yield answers
        health = GaugeMetricFamily(
            "successcrew_component_up",
            "1 when the component's last health check passed, 0 when it failed",
            labels=["component"],
        )
        streak = GaugeMetricFamily(
            "successcrew_component_consecutive_failures",
            "Failed health checks since the component's last success",
            labels=["component"],
        )
        for name, (ok, failures) in sorted(figures.components.items()):
            if ok is not None:
                health.add_metric([name], 1 if ok else 0)
            streak.add_metric([name], failures)
        yield health
        yield streak


def exposition(engine: Engine, clock: Callable[[], datetime], accept: str) -> tuple[bytes, str]:
    """The scrape body and its content type."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        for counter in COUNTERS:
            registry.register(counter)
    registry.register(CrewCollector(engine, clock))
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
