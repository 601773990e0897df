-- How many spans a trace has in the caller's applications: asked only when the
-- answer reached its cap, to say how much was left out.
SELECT count() AS Spans
FROM otel_traces
WHERE AppId IN {apps:Array(String)}
    AND TraceId = {trace_id:String}
    AND toDateTime(Timestamp) >= (SELECT min(Start) FROM otel_traces_trace_id_ts WHERE TraceId = {trace_id:String})
    AND toDateTime(Timestamp) <= (SELECT max(End) FROM otel_traces_trace_id_ts WHERE TraceId = {trace_id:String})
