-- GET /api/traces: one row per entry span, newest first. An entry span is where a
-- request entered an application: a SERVER span, or a trace's root (no parent).
-- Rows are ordered by (Timestamp, SpanId), the keyset the cursor resumes from.
-- cutoff_s comes from traces_cutoff.sql: the page lies in the seconds from there on.
-- The FILTERS marker below is replaced by fixed, parameterized fragments (collector/queries.py).
SELECT
    TraceId, SpanId, AppId, ServiceName, SpanName,
    toUnixTimestamp64Nano(Timestamp) AS StartNs, Duration,
    HttpMethod, HttpRoute, HttpTarget, HttpStatusCode, StatusCode, ClientIp, UserAgent
FROM otel_traces
WHERE AppId IN {apps:Array(String)}
    AND Timestamp >= fromUnixTimestamp64Nano({from_ns:Int64})
    AND Timestamp < fromUnixTimestamp64Nano({to_ns:Int64})
    AND (SpanKind = 'SPAN_KIND_SERVER' OR ParentSpanId = '')
    AND toDateTime(Timestamp) >= toDateTime({cutoff_s:UInt32})
    /*FILTERS*/
ORDER BY toDateTime(Timestamp) DESC, Timestamp DESC, SpanId DESC
LIMIT {limit:UInt32}
