-- Spans, with the column names and types of the OpenTelemetry Collector's ClickHouse
-- exporter so Grafana's ClickHouse plugin reads this table as it is, plus the columns
-- this product's HTTP analytics filter and group by (AppId, Http*, ClientIp, UserAgent).
-- Sorted per application, then by time: every query of the product is scoped that way.
-- On a cluster this is the storage table of one shard (otel_traces_local); readers and
-- the landing views use the Distributed table otel_traces below (schema/README.md).
CREATE TABLE IF NOT EXISTS otel_traces${LOCAL} ${ON_CLUSTER}
(
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested
    (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested
    (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    AppId LowCardinality(String) CODEC(ZSTD(1)),
    HttpMethod LowCardinality(String) CODEC(ZSTD(1)),
    HttpRoute LowCardinality(String) CODEC(ZSTD(1)),
    HttpTarget String CODEC(ZSTD(1)),
    HttpStatusCode UInt16 CODEC(ZSTD(1)),
    ClientIp String CODEC(ZSTD(1)),
    UserAgent String CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = ${REPLICATED}MergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (AppId, toDateTime(Timestamp), ServiceName)
TTL toDateTime(Timestamp) + toIntervalDay(${RETENTION_DAYS})
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

-- Cluster only: every shard's spans through one name. The spans of one trace all go
-- to the shard its id hashes to, so a trace is read from one shard and its time range
-- below is computed whole, next to it.
${CLUSTER_ONLY}CREATE TABLE IF NOT EXISTS otel_traces ${ON_CLUSTER} AS otel_traces${LOCAL}
ENGINE = Distributed(${CLUSTER}, currentDatabase(), otel_traces${LOCAL}, cityHash64(TraceId));

-- First and last time of each trace, so a lookup by id reads a few granules of
-- otel_traces instead of scanning it (the gap behind Grafana ClickHouse plugin
-- issues 724, 1705 and 1786). The sort key starts with TraceId, so the primary index
-- finds an id by itself (no bloom filter); granules of 1,024 rows instead of 8,192 make
-- each lookup read an eighth as much (benchmarks/README.md, figure 6: the bounds of one
-- id 7.0 -> 3.4 ms, of a list page's 51 ids 119 -> 24 ms on 10M spans).
CREATE TABLE IF NOT EXISTS otel_traces_trace_id_ts${LOCAL} ${ON_CLUSTER}
(
    TraceId String CODEC(ZSTD(1)),
    Start DateTime CODEC(Delta, ZSTD(1)),
    End DateTime CODEC(Delta, ZSTD(1))
)
ENGINE = ${REPLICATED}MergeTree
PARTITION BY toDate(Start)
ORDER BY (TraceId, Start)
TTL Start + toIntervalDay(${RETENTION_DAYS})
SETTINGS index_granularity = 1024, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

${CLUSTER_ONLY}CREATE TABLE IF NOT EXISTS otel_traces_trace_id_ts ${ON_CLUSTER} AS otel_traces_trace_id_ts${LOCAL}
ENGINE = Distributed(${CLUSTER}, currentDatabase(), otel_traces_trace_id_ts${LOCAL}, cityHash64(TraceId));

-- Fed by each shard's own inserts: local table to local table.
CREATE MATERIALIZED VIEW IF NOT EXISTS otel_traces_trace_id_ts_mv ${ON_CLUSTER}
TO otel_traces_trace_id_ts${LOCAL}
AS SELECT
    TraceId,
    min(Timestamp) AS Start,
    max(Timestamp) AS End
FROM otel_traces${LOCAL}
WHERE TraceId != ''
GROUP BY TraceId;
