-- GET /api/applications/<id>/ips: client IPs of one application with their request
-- and error counts, first and last seen and busiest routes, from the per-minute rollup.
-- The ORDER marker below is replaced by one of a fixed set of sort orders (collector/queries.py).
SELECT
    ClientIp,
    sum(RouteRequests) AS Requests,
    sum(RouteErrors) AS Errors,
    sum(RouteServerErrors) AS ServerErrors,
    toUnixTimestamp64Nano(min(RouteFirstSeen)) AS FirstSeenNs,
    toUnixTimestamp64Nano(max(RouteLastSeen)) AS LastSeenNs,
    arraySlice(arraySort(r -> (-r.2, r.1), groupArray((HttpRoute, RouteRequests))), 1, 5) AS TopRoutes,
    count() OVER () AS Total
FROM (
    SELECT ClientIp, HttpRoute,
        sum(Requests) AS RouteRequests, sum(Errors) AS RouteErrors, sum(ServerErrors) AS RouteServerErrors,
        min(FirstSeen) AS RouteFirstSeen, max(LastSeen) AS RouteLastSeen
    FROM http_client_ips_1m
    WHERE AppId = {app:String}
        AND Minute >= toDateTime({from_s:UInt32}, 'UTC')
        AND Minute < toDateTime({to_s:UInt32}, 'UTC')
    GROUP BY ClientIp, HttpRoute
)
GROUP BY ClientIp
ORDER BY /*ORDER*/, ClientIp
LIMIT {limit:UInt32} OFFSET {offset:UInt32}
