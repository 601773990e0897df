-- GET /api/analytics/500-errors: server errors grouped by application, route, method,
-- status and error, from the per-minute rollup; busiest first.
SELECT
    AppId, HttpRoute, HttpMethod, HttpStatusCode, ErrorType, ErrorMessage,
    sum(Requests) AS Count,
    toUnixTimestamp64Nano(min(FirstSeen)) AS FirstSeenNs,
    toUnixTimestamp64Nano(max(LastSeen)) AS LastSeenNs,
    arraySort(groupUniqArrayMerge(5)(SampleTraceIds)) AS SampleTraceIds,
    count() OVER () AS Groups,
    sum(Count) OVER () AS TotalCount
FROM http_server_errors_1m
WHERE AppId IN {apps:Array(String)}
    AND Minute >= toDateTime({from_s:UInt32}, 'UTC')
    AND Minute < toDateTime({to_s:UInt32}, 'UTC')
GROUP BY AppId, HttpRoute, HttpMethod, HttpStatusCode, ErrorType, ErrorMessage
ORDER BY Count DESC, LastSeenNs DESC, HttpRoute, HttpMethod, HttpStatusCode, ErrorType, ErrorMessage
LIMIT {limit:UInt32}
