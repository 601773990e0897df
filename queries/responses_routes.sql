-- The busiest routes of one status class over the range, from the per-minute rollup.
SELECT HttpRoute, HttpMethod, sum(Requests) AS Requests
FROM http_responses_1m
WHERE AppId IN {apps:Array(String)}
    AND Minute >= toDateTime({from_s:UInt32}, 'UTC')
    AND Minute < toDateTime({to_s:UInt32}, 'UTC')
    AND HttpStatusCode BETWEEN {status_lo:UInt16} AND {status_hi:UInt16}
GROUP BY HttpRoute, HttpMethod
ORDER BY Requests DESC, HttpRoute, HttpMethod
LIMIT {top:UInt32}
