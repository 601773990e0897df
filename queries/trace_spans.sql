-- GET /api/traces/<traceId>: the spans of one trace, at most cap of them, earliest
-- first. The trace's first and last second come from the id -> time table (scalar
-- subqueries, evaluated first), so the primary key narrows the read of otel_traces
-- to those seconds instead of a scan.
SELECT
    SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName, AppId,
    toUnixTimestamp64Nano(Timestamp) AS StartNs, Duration, StatusCode, StatusMessage,
    ScopeName, ScopeVersion, SpanAttributes, ResourceAttributes,
    arrayMap(t -> toUnixTimestamp64Nano(t), `Events.Timestamp`) AS EventTimes,
    `Events.Name` AS EventNames, `Events.Attributes` AS EventAttributes,
    `Links.TraceId` AS LinkTraceIds, `Links.SpanId` AS LinkSpanIds,
    `Links.TraceState` AS LinkTraceStates, `Links.Attributes` AS LinkAttributes
FROM otel_traces
WHERE AppId IN {apps:Array(String)}
    AND TraceId = {trace_id:String}
    AND toDateTime(Timestamp) >= (SELECT min(Start) FROM otel_traces_trace_id_ts WHERE TraceId = {trace_id:String})
    AND toDateTime(Timestamp) <= (SELECT max(End) FROM otel_traces_trace_id_ts WHERE TraceId = {trace_id:String})
ORDER BY Timestamp, SpanId
LIMIT {cap:UInt32}
