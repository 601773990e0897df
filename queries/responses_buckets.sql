-- GET /api/analytics/<class>-responses: responses per bucket and status code, from the
-- per-minute rollup. Buckets are whole steps counted from the Unix epoch: UTC edges.
SELECT
    toUnixTimestamp(Minute) - toUnixTimestamp(Minute) % {step_s:UInt32} AS Bucket,
    HttpStatusCode,
    sum(Requests) AS Requests
FROM http_responses_1m
WHERE AppId IN {apps:Array(String)}
    AND Minute >= toDateTime({from_s:UInt32}, 'UTC')
    AND Minute < toDateTime({to_s:UInt32}, 'UTC')
    AND HttpStatusCode BETWEEN {status_lo:UInt16} AND {status_hi:UInt16}
GROUP BY Bucket, HttpStatusCode
ORDER BY Bucket, HttpStatusCode
