"""The pipeline's Prometheus metrics (`pipeline_` prefix, base units) and their exposition.

Every process serves `GET /metrics` from the default registry. Labels take values from small fixed
sets (provider, type, status, reason) — never instance or event ids.
"""

from __future__ import annotations

import functools
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)

from pipeline import __version__


@functools.lru_cache(maxsize=4096)
def child(metric: Any, *values: str) -> Any:
    """`metric.labels(*values)`, looked up once: prometheus_client takes a lock and builds the
    key on every `labels` call (about 2.5 µs), which the worker makes several times per event.
    Only for metrics whose labelled children are never removed (`clear`, `remove`)."""
    return metric.labels(*values)


# Request handling: 1 ms … 10 s.
FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Provider time → pipeline: polled changes can be minutes old.
LAG_BUCKETS = (*FAST_BUCKETS, 30.0, 60.0, 300.0, 900.0, 3600.0)

BUILD_INFO = Info("pipeline_build", "Version of the running pipeline process.")
BUILD_INFO.info({"version": __version__})

INGRESS_REQUESTS = Counter(
    "pipeline_ingress_requests_total",
    "Webhook requests answered by the ingress, by provider and HTTP status.",
    ["provider", "status"],
)
INGRESS_DURATION = Histogram(
    "pipeline_ingress_request_duration_seconds",
    "Time from a webhook request's arrival to its answer (202 includes the Kafka ack).",
    ["provider"],
    buckets=FAST_BUCKETS,
)
INGRESS_BYTES = Counter(
    "pipeline_ingress_received_bytes_total",
    "Webhook body bytes received, by provider.",
    ["provider"],
)
EVENTS_NORMALIZED = Counter(
    "pipeline_events_normalized_total",
    "Normalized events written to events.normalized, by provider and type.",
    ["provider", "type"],
)
EVENTS_INVALID = Counter(
    "pipeline_events_invalid_total",
    "Records or elements written to events.invalid, by stage and reason.",
    ["stage", "reason"],
)
EVENTS_DUPLICATE = Counter(
    "pipeline_events_duplicates_total",
    "Events dropped because their source and id were already seen, by provider.",
    ["provider"],
)
EVENTS_IGNORED = Counter(
    "pipeline_events_ignored_total",
    "Provider elements that carry no event (Hootsuite pings), by provider.",
    ["provider"],
)
NORMALIZE_LAG = Histogram(
    "pipeline_normalize_lag_seconds",
    "Time from when an event happened at the provider to its normalized write.",
    ["provider"],
    buckets=LAG_BUCKETS,
)

# Delivery. `subscription` is bounded by configuration (an operator creates each one).
DELIVERIES_ROUTED = Counter(
    "pipeline_deliveries_routed_total",
    "Delivery tasks created (one per normalized event and matching subscription), by reason.",
    ["reason"],
)
DELIVERY_ATTEMPTS = Counter(
    "pipeline_delivery_attempts_total",
    "Delivery attempts by subscription, outcome and HTTP status class.",
    ["subscription", "outcome", "status_class"],
)
DELIVERY_DURATION = Histogram(
    "pipeline_delivery_duration_seconds",
    "Duration of one delivery attempt's HTTP request, by subscription.",
    ["subscription"],
    buckets=FAST_BUCKETS,
)
DELIVERY_RETRIES = Counter(
    "pipeline_delivery_retries_total",
    "Deliveries sent to a retry tier, by tier (1 = first retry).",
    ["tier"],
)
DELIVERIES_DEAD = Counter(
    "pipeline_deliveries_dead_total",
    "Deliveries dead-lettered after their last attempt, by subscription.",
    ["subscription"],
)
DELIVERIES_SUPPRESSED = Counter(
    "pipeline_deliveries_suppressed_total",
    "Deliveries skipped because the subscriber already answered 2xx for that event.",
)
SUBSCRIPTIONS_DISABLED = Counter(
    "pipeline_subscriptions_disabled_total",
    "Subscriptions disabled because their endpoint answered 410 Gone.",
)
DELIVERIES_IN_FLIGHT = Gauge(
    "pipeline_deliveries_in_flight",
    "Delivery HTTP requests under way.",
)
END_TO_END_LATENCY = Histogram(
    "pipeline_end_to_end_latency_seconds",
    "From the pipeline receiving an event (receivedat) to its subscriber's 2xx, by provider.",
    ["provider"],
    buckets=LAG_BUCKETS,
)

# Pollers (provider REST → poller → polls.raw).
POLLER_POLLS = Counter(
    "pipeline_poller_polls_total",
    "Poll cycles finished, by provider and outcome (ok, auth_failed, rate_limited, "
    "provider_unavailable, bad_response, bad_config, kafka_unavailable).",
    ["provider", "outcome"],
)
POLLER_POLL_DURATION = Histogram(
    "pipeline_poller_poll_duration_seconds",
    "Time one instance's poll cycle took, from its first request to its last Kafka ack.",
    ["provider"],
    buckets=LAG_BUCKETS,
)
POLLER_LAG = Histogram(
    "pipeline_poller_lag_seconds",
    "How late a poll cycle started compared with the time it was due.",
    ["provider"],
    buckets=LAG_BUCKETS,
)
POLLER_REQUESTS = Counter(
    "pipeline_poller_requests_total",
    "HTTP requests sent to the provider's API (retries and token requests included).",
    ["provider"],
)
POLLER_RATE_LIMIT_WAITS = Counter(
    "pipeline_poller_rate_limit_waits_total",
    "Times a poller waited out a provider's 429 before trying again.",
    ["provider"],
)
POLLER_TOKEN_REFRESHES = Counter(
    "pipeline_poller_token_refreshes_total",
    "OAuth2 access token renewals, by outcome (success, failure).",
    ["provider", "outcome"],
)
POLLER_SNAPSHOTS = Counter(
    "pipeline_poller_snapshots_total",
    "Item snapshots written to polls.raw (state changes and deletions).",
    ["provider"],
)
POLLER_INSTANCES = Gauge(
    "pipeline_poller_instances",
    "Instances this poller polls, by health (pending, healthy, unhealthy).",
    ["health"],
)
OKTOPOST_WEBHOOKS_UNLISTED = Counter(
    "pipeline_oktopost_webhooks_unlisted_total",
    "Webhooks a managed Oktopost instance registered that a sync did not find in Oktopost's "
    "listing, counted at each sync, by listing (complete: as many items as its Total).",
    ["listing"],
)

# Kafka.
CONSUMER_LAG = Gauge(
    "pipeline_kafka_consumer_lag",
    "Records not yet consumed by a pipeline consumer group, per topic and partition.",
    ["group", "topic", "partition"],
)
DELIVERIES_DEFERRED = Counter(
    "pipeline_deliveries_deferred_total",
    "Tasks moved to the first retry tier because a slow subscriber held its limit of requests.",
    ["subscription"],
)
AGENT_ERRORS = Counter(
    "pipeline_agent_errors_total",
    "Records an agent failed on unexpectedly and dead-lettered (reason internal_error), by stage.",
    ["stage"],
)
AGENT_RETRIES = Counter(
    "pipeline_agent_retries_total",
    "Times an agent handled a record again because Kafka refused or did not acknowledge a write.",
    ["stage"],
)
WORKER_STALLS = Counter(
    "pipeline_worker_stalls_total",
    "Times a worker found an owned partition with records to read and no progress, and exited.",
)
KAFKA_METADATA_TASK_RESTARTS = Counter(
    "pipeline_kafka_metadata_task_restarts_total",
    "Times an aiokafka client's metadata task failed and was started again (its failure is "
    "logged); without the restart, every later wait for metadata hung.",
)
WORKER_PARTITION_REPAIRS = Counter(
    "pipeline_worker_partition_repairs_total",
    "Times a partition was sought back to read records again: by the stall watchdog (no "
    "progress), or because records were fetched and never handed to an agent.",
)
WORKER_STALLED_PARTITIONS = Gauge(
    "pipeline_worker_stalled_partitions",
    "Partitions the stall watchdog found stalled (non-zero only just before the worker exits).",
)
CONFIG_UNREADABLE = Gauge(
    "pipeline_config_unreadable_records",
    "Keys of a configuration topic whose newest record this process cannot read (a seal its "
    "key ring does not open, a shape it cannot decode); what depends on them waits.",
    ["topic"],
)
DELIVERIES_WAITING_CONFIG = Gauge(
    "pipeline_deliveries_waiting_for_config",
    "Delivery tasks held uncommitted because their subscription's record cannot be read here.",
)
DELIVERY_LANES_HELD = Gauge(
    "pipeline_delivery_lanes_held",
    "Lanes of an ordered subscription (one per event subject) held back by a task waiting for "
    "its retry, on this worker.",
    ["subscription"],
)
DELIVERY_HELD_OLDEST = Gauge(
    "pipeline_delivery_held_oldest_seconds",
    "How long the oldest task holding back a lane of this ordered subscription has been failing.",
    ["subscription"],
)
TABLE_KEYS = Gauge(
    "pipeline_table_keys",
    "Keys an expiring table holds on this worker's open partitions (RocksDB's estimate).",
    ["table"],
)
TABLE_BYTES = Gauge(
    "pipeline_table_bytes",
    "Bytes an expiring table takes on this worker's open partitions (SST files and memtables).",
    ["table"],
)
TABLE_OLDEST_KEY_AGE = Gauge(
    "pipeline_table_oldest_key_age_seconds",
    "Age of the oldest time bucket an expiring table still holds (at most two windows).",
    ["table"],
)
TABLE_WINDOW = Gauge(
    "pipeline_table_window_seconds",
    "The window of an expiring table: keys are kept at least this long, at most twice as long.",
    ["table"],
)
TABLE_EXPIRY_RUNS = Gauge(
    "pipeline_table_last_expiry_timestamp_seconds",
    "When an expiring table last ran its expiry (Unix time).",
    ["table"],
)
TABLE_RECOVERY_SECONDS = Gauge(
    "pipeline_table_recovery_seconds",
    "How long the last recovery of a table took, from the rebalance to its completion.",
    ["table"],
)
TABLE_RECOVERED_RECORDS = Counter(
    "pipeline_table_recovered_records_total",
    "Changelog records a table applied while recovering its partitions.",
    ["table"],
)
PRODUCER_ERRORS = Counter(
    "pipeline_kafka_producer_errors_total",
    "Writes to Kafka that failed or were not acknowledged in time, by process.",
    ["process"],
)


def render() -> tuple[bytes, str]:
    """The Prometheus text exposition of every registered metric, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
