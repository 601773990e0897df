"""Every metric the service exports, declared in one place.

Where the meaning is the same, names are the OpenTelemetry Collector's, so the
dashboards and alerts operators already have for it keep working. Labels name
components and outcomes, never keys, client addresses or trace ids: each label
has a small, fixed set of values.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

# --- receivers (labels: receiver="otlp", transport="grpc"|"http") ---
RECEIVER_ACCEPTED_SPANS = Counter(
    "otelcol_receiver_accepted_spans", "Spans accepted and made durable.", ["receiver", "transport"], registry=REGISTRY
)
RECEIVER_REFUSED_SPANS = Counter(
    "otelcol_receiver_refused_spans", "Spans refused: invalid, unauthenticated or pushed back.", ["receiver", "transport"], registry=REGISTRY
)
RECEIVER_REQUESTS = Counter(
    "collector_receiver_requests", "Export requests by outcome.", ["transport", "outcome"], registry=REGISTRY
)
RECEIVER_REQUEST_SECONDS = Histogram(
    "collector_receiver_request_seconds", "Time from request to acknowledgement.", ["transport"],
    buckets=LATENCY_BUCKETS, registry=REGISTRY,
)
RECEIVER_INFLIGHT = Gauge("collector_receiver_inflight_requests", "Export requests being handled.", registry=REGISTRY)
AUTH_FAILURES = Counter(
    "collector_auth_failures", "Refused credentials by reason.", ["surface", "reason"], registry=REGISTRY
)

# --- write-ahead log ---
WAL_BYTES = Gauge("collector_wal_bytes", "Bytes in the write-ahead log not yet in the store.", registry=REGISTRY)
WAL_SEGMENTS = Gauge("collector_wal_segments", "Segments in the write-ahead log.", registry=REGISTRY)
WAL_OLDEST_AGE = Gauge(
    "collector_wal_oldest_unshipped_age_seconds", "Age of the oldest record not yet in the store.", registry=REGISTRY
)
WAL_FSYNC_SECONDS = Histogram("collector_wal_fsync_seconds", "Duration of one group-commit fsync.", buckets=LATENCY_BUCKETS, registry=REGISTRY)
WAL_APPENDED_BYTES = Counter("collector_wal_appended_bytes", "Bytes appended to the write-ahead log.", registry=REGISTRY)
WAL_CORRUPT_RECORDS = Counter(
    "collector_wal_corrupt_records", "Torn or corrupted records found and skipped on replay.", registry=REGISTRY
)

# --- exporter to ClickHouse (label exporter="clickhouse") ---
EXPORTER_SENT_SPANS = Counter("otelcol_exporter_sent_spans", "Spans written to the store.", ["exporter"], registry=REGISTRY)
EXPORTER_SEND_FAILED_SPANS = Counter(
    "otelcol_exporter_send_failed_spans", "Spans in inserts that failed (retried or dead-lettered).", ["exporter"], registry=REGISTRY
)
EXPORTER_ENQUEUE_FAILED_SPANS = Counter(
    "otelcol_exporter_enqueue_failed_spans", "Spans refused because the log was full.", ["exporter"], registry=REGISTRY
)
EXPORTER_QUEUE_SIZE = Gauge("otelcol_exporter_queue_size", "Bytes waiting in the log to be written.", ["exporter"], registry=REGISTRY)
EXPORTER_QUEUE_CAPACITY = Gauge("otelcol_exporter_queue_capacity", "The log's disk budget in bytes.", ["exporter"], registry=REGISTRY)
INSERT_SECONDS = Histogram(
    "collector_clickhouse_insert_seconds", "Duration of one segment insert.", buckets=LATENCY_BUCKETS, registry=REGISTRY
)
INSERT_ROWS = Counter("collector_clickhouse_inserted_rows", "Spans inserted into ClickHouse.", registry=REGISTRY)
INSERT_RETRIES = Counter("collector_clickhouse_insert_retries", "Inserts tried again after a transient error.", registry=REGISTRY)
DEAD_LETTERED = Counter(
    "collector_clickhouse_dead_lettered_batches", "Segments set aside because the store can never accept them.", registry=REGISTRY
)

# --- query API (label route = the route's pattern, never the raw path) ---
API_REQUESTS = Counter("collector_api_requests", "API requests by route and status.", ["route", "status"], registry=REGISTRY)
API_REQUEST_SECONDS = Histogram(
    "collector_api_request_seconds", "API request latency by route.", ["route"], buckets=LATENCY_BUCKETS, registry=REGISTRY
)
API_RATE_LIMITED = Counter("collector_api_rate_limited", "API requests answered 429.", ["route"], registry=REGISTRY)
