-- How many spans a trace has in the caller's applications (to say when it is capped).
SELECT count() AS Spans
FROM otel_traces
WHERE AppId IN {apps:Array(String)}
    AND TraceId = {trace_id:String}
    AND toDateTime(Timestamp) >= toDateTime({lo:UInt32})
    AND toDateTime(Timestamp) <= toDateTime({hi:UInt32})
