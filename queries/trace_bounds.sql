-- First and last second of a trace, from the id -> time table (no scan of otel_traces).
SELECT toUnixTimestamp(min(Start)) AS lo, toUnixTimestamp(max(End)) AS hi, count() AS found
FROM otel_traces_trace_id_ts
WHERE TraceId = {trace_id:String}
