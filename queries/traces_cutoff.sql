-- The second in which the traces list's page ends, so the list query reads only the
-- seconds from there to the range's end. For each application (AppId = one value,
-- so ClickHouse reads the primary key in reverse order and stops early) the newest
-- matching entry spans' seconds; over all applications, the one at position LIMIT.
-- The APP_PARTS marker is replaced by one copy of the part below per application,
-- each with its own app_N parameter, joined by UNION ALL; FILTERS as in traces_list.
SELECT toUnixTimestamp(Second) AS CutoffSecond
FROM (/*APP_PARTS*/)
ORDER BY Second DESC
LIMIT 1 OFFSET {last:UInt32}
