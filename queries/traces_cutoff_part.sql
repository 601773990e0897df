SELECT toDateTime(Timestamp) AS Second
FROM otel_traces
WHERE AppId = {app_N:String}
    AND Timestamp >= fromUnixTimestamp64Nano({from_ns:Int64})
    AND Timestamp < fromUnixTimestamp64Nano({to_ns:Int64})
    AND (SpanKind = 'SPAN_KIND_SERVER' OR ParentSpanId = '')
    /*FILTERS*/
ORDER BY Second DESC
LIMIT {limit:UInt32}
