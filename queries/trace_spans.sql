-- GET /api/traces/<traceId>: the spans of one trace, at most cap of them, earliest
-- first; read within the trace's time range so the primary key narrows the read.
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
    AND toDateTime(Timestamp) >= toDateTime({lo:UInt32})
    AND toDateTime(Timestamp) <= toDateTime({hi:UInt32})
ORDER BY Timestamp, SpanId
LIMIT {cap:UInt32}
