-- Per-minute rollups behind the analytics endpoints, kept by materialized views on
-- otel_traces, so a dashboard reads thousands of rows instead of millions of spans.
-- A "response" is a SERVER span with an HTTP status code (100-599). Minutes are UTC
-- (a DateTime is a Unix time; the 'UTC' type only fixes how it is shown and bucketed).
-- The deduplication window matches otel_traces, so a retried landing insert with the
-- same token is not counted twice here either.

-- Responses per application, minute, status, route and method.
CREATE TABLE IF NOT EXISTS http_responses_1m${LOCAL} ${ON_CLUSTER}
(
    AppId LowCardinality(String),
    Minute DateTime('UTC'),
    HttpStatusCode UInt16,
    HttpRoute LowCardinality(String),
    HttpMethod LowCardinality(String),
    Requests UInt64
)
ENGINE = ${REPLICATED}SummingMergeTree
PARTITION BY toDate(Minute)
ORDER BY (AppId, Minute, HttpStatusCode, HttpRoute, HttpMethod)
TTL Minute + toIntervalDay(${RETENTION_DAYS})
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

${CLUSTER_ONLY}CREATE TABLE IF NOT EXISTS http_responses_1m ${ON_CLUSTER} AS http_responses_1m${LOCAL}
ENGINE = Distributed(${CLUSTER}, currentDatabase(), http_responses_1m${LOCAL}, rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS http_responses_1m_mv ${ON_CLUSTER}
TO http_responses_1m${LOCAL}
AS SELECT
    AppId,
    toStartOfMinute(Timestamp) AS Minute,
    HttpStatusCode,
    HttpRoute,
    HttpMethod,
    count() AS Requests
FROM otel_traces${LOCAL}
WHERE SpanKind = 'SPAN_KIND_SERVER' AND HttpStatusCode BETWEEN 100 AND 599
GROUP BY AppId, Minute, HttpStatusCode, HttpRoute, HttpMethod;

-- Server errors (5xx) per minute, route, method, status and error, with first and
-- last time seen and a few trace ids to open. The error is the exception type of the
-- span's first exception event, and the status message (else the exception message),
-- cut to 200 characters so one noisy message cannot blow up the table.
CREATE TABLE IF NOT EXISTS http_server_errors_1m${LOCAL} ${ON_CLUSTER}
(
    AppId LowCardinality(String),
    Minute DateTime('UTC'),
    HttpRoute LowCardinality(String),
    HttpMethod LowCardinality(String),
    HttpStatusCode UInt16,
    ErrorType String,
    ErrorMessage String,
    Requests SimpleAggregateFunction(sum, UInt64),
    FirstSeen SimpleAggregateFunction(min, DateTime64(9, 'UTC')),
    LastSeen SimpleAggregateFunction(max, DateTime64(9, 'UTC')),
    SampleTraceIds AggregateFunction(groupUniqArray(5), String)
)
ENGINE = ${REPLICATED}AggregatingMergeTree
PARTITION BY toDate(Minute)
ORDER BY (AppId, Minute, HttpRoute, HttpMethod, HttpStatusCode, ErrorType, ErrorMessage)
TTL Minute + toIntervalDay(${RETENTION_DAYS})
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

${CLUSTER_ONLY}CREATE TABLE IF NOT EXISTS http_server_errors_1m ${ON_CLUSTER} AS http_server_errors_1m${LOCAL}
ENGINE = Distributed(${CLUSTER}, currentDatabase(), http_server_errors_1m${LOCAL}, rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS http_server_errors_1m_mv ${ON_CLUSTER}
TO http_server_errors_1m${LOCAL}
AS SELECT
    AppId,
    toStartOfMinute(Timestamp) AS Minute,
    HttpRoute,
    HttpMethod,
    HttpStatusCode,
    arrayFirst(x -> x != '', arrayMap(a -> a['exception.type'], `Events.Attributes`)) AS ErrorType,
    leftUTF8(if(StatusMessage != '', StatusMessage,
        arrayFirst(x -> x != '', arrayMap(a -> a['exception.message'], `Events.Attributes`))), 200) AS ErrorMessage,
    count() AS Requests,
    min(Timestamp) AS FirstSeen,
    max(Timestamp) AS LastSeen,
    groupUniqArrayState(5)(TraceId) AS SampleTraceIds
FROM otel_traces${LOCAL}
WHERE SpanKind = 'SPAN_KIND_SERVER' AND HttpStatusCode BETWEEN 500 AND 599
GROUP BY AppId, Minute, HttpRoute, HttpMethod, HttpStatusCode, ErrorType, ErrorMessage;

-- Requests per application, hour and client IP, for the IPs view; hourly because client
-- addresses are many (a per-minute table would be nearly as large as the spans).
CREATE TABLE IF NOT EXISTS http_client_ips_1h${LOCAL} ${ON_CLUSTER}
(
    AppId LowCardinality(String),
    Hour DateTime('UTC'),
    ClientIp String,
    Requests SimpleAggregateFunction(sum, UInt64),
    Errors SimpleAggregateFunction(sum, UInt64),
    ServerErrors SimpleAggregateFunction(sum, UInt64),
    FirstSeen SimpleAggregateFunction(min, DateTime64(9, 'UTC')),
    LastSeen SimpleAggregateFunction(max, DateTime64(9, 'UTC'))
)
ENGINE = ${REPLICATED}AggregatingMergeTree
PARTITION BY toDate(Hour)
ORDER BY (AppId, Hour, ClientIp)
TTL Hour + toIntervalDay(${RETENTION_DAYS})
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

${CLUSTER_ONLY}CREATE TABLE IF NOT EXISTS http_client_ips_1h ${ON_CLUSTER} AS http_client_ips_1h${LOCAL}
ENGINE = Distributed(${CLUSTER}, currentDatabase(), http_client_ips_1h${LOCAL}, rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS http_client_ips_1h_mv ${ON_CLUSTER}
TO http_client_ips_1h${LOCAL}
AS SELECT
    AppId,
    toStartOfHour(toDateTime(Timestamp, 'UTC')) AS Hour,
    ClientIp,
    count() AS Requests,
    countIf(HttpStatusCode >= 400) AS Errors,
    countIf(HttpStatusCode >= 500) AS ServerErrors,
    min(Timestamp) AS FirstSeen,
    max(Timestamp) AS LastSeen
FROM otel_traces${LOCAL}
WHERE SpanKind = 'SPAN_KIND_SERVER' AND ClientIp != ''
GROUP BY AppId, Hour, ClientIp;

-- Requests per application, hour, client IP and route: the top routes of the IPs on a page.
CREATE TABLE IF NOT EXISTS http_client_ip_routes_1h${LOCAL} ${ON_CLUSTER}
(
    AppId LowCardinality(String),
    Hour DateTime('UTC'),
    ClientIp String,
    HttpRoute LowCardinality(String),
    Requests UInt64
)
ENGINE = ${REPLICATED}SummingMergeTree
PARTITION BY toDate(Hour)
ORDER BY (AppId, Hour, ClientIp, HttpRoute)
TTL Hour + toIntervalDay(${RETENTION_DAYS})
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

${CLUSTER_ONLY}CREATE TABLE IF NOT EXISTS http_client_ip_routes_1h ${ON_CLUSTER} AS http_client_ip_routes_1h${LOCAL}
ENGINE = Distributed(${CLUSTER}, currentDatabase(), http_client_ip_routes_1h${LOCAL}, rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS http_client_ip_routes_1h_mv ${ON_CLUSTER}
TO http_client_ip_routes_1h${LOCAL}
AS SELECT
    AppId,
    toStartOfHour(toDateTime(Timestamp, 'UTC')) AS Hour,
    ClientIp,
    HttpRoute,
    count() AS Requests
FROM otel_traces${LOCAL}
WHERE SpanKind = 'SPAN_KIND_SERVER' AND ClientIp != ''
GROUP BY AppId, Hour, ClientIp, HttpRoute;
