-- Span counts of a page of traces. Read only within the page's own time window
-- (from a minute before its earliest entry span to a minute after its last one
-- ends), so the count reads a few granules; a lookup of 50 ids in the id -> time
-- table would read a granule per id. Spans of a trace further out are not counted
-- here (the trace itself, by id, has them all).
SELECT TraceId, count() AS Spans
FROM otel_traces
WHERE AppId IN {apps:Array(String)}
    AND TraceId IN {ids:Array(String)}
    AND Timestamp >= fromUnixTimestamp64Nano({lo_ns:Int64})
    AND Timestamp <= fromUnixTimestamp64Nano({hi_ns:Int64})
GROUP BY TraceId
