-- Span counts of a page of traces, read only within the traces' time ranges
-- (from otel_traces_trace_id_ts), so the count does not scan the table.
WITH bounds AS (
    SELECT min(Start) AS lo, max(End) AS hi
    FROM otel_traces_trace_id_ts
    WHERE TraceId IN {ids:Array(String)}
)
SELECT TraceId, count() AS Spans
FROM otel_traces
WHERE AppId IN {apps:Array(String)}
    AND TraceId IN {ids:Array(String)}
    AND toDateTime(Timestamp) >= (SELECT lo FROM bounds)
    AND toDateTime(Timestamp) <= (SELECT hi FROM bounds)
GROUP BY TraceId
