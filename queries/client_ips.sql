-- GET /api/applications/<id>/ips: client IPs of one application with their request
-- and error counts, first and last seen, from the hourly rollup; the top routes of the
-- page's IPs come from client_ip_routes.sql.
-- The ORDER marker below is replaced by one of a fixed set of sort orders (collector/queries.py).
SELECT
    ClientIp,
    sum(Requests) AS Requests,
    sum(Errors) AS Errors,
    sum(ServerErrors) AS ServerErrors,
    toUnixTimestamp64Nano(min(FirstSeen)) AS FirstSeenNs,
    toUnixTimestamp64Nano(max(LastSeen)) AS LastSeenNs,
    count() OVER () AS Total
FROM http_client_ips_1h
WHERE AppId = {app:String}
    AND Hour >= toDateTime({from_s:UInt32}, 'UTC')
    AND Hour < toDateTime({to_s:UInt32}, 'UTC')
GROUP BY ClientIp
ORDER BY /*ORDER*/, ClientIp
LIMIT {limit:UInt32} OFFSET {offset:UInt32}
