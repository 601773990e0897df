-- The five busiest routes of each of a page of client IPs, from the hourly rollup.
SELECT ClientIp, arraySlice(arraySort(r -> (-r.2, r.1), groupArray((HttpRoute, Requests))), 1, 5) AS TopRoutes
FROM (
    SELECT ClientIp, HttpRoute, sum(Requests) AS Requests
    FROM http_client_ip_routes_1h
    WHERE AppId = {app:String}
        AND Hour >= toDateTime({from_s:UInt32}, 'UTC')
        AND Hour < toDateTime({to_s:UInt32}, 'UTC')
        AND ClientIp IN {ips:Array(String)}
    GROUP BY ClientIp, HttpRoute
)
GROUP BY ClientIp
