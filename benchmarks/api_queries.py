"""Latency of the API's queries over N spans in the embedded store.

    .venv/bin/python -m benchmarks.api_queries --spans 10000000 --dir /tmp/apibench

Spans are generated inside ClickHouse (INSERT ... SELECT FROM numbers()) straight
into otel_traces, so the materialized views (trace-id table, rollups) fill as they
would from the landing table. Traces of 5 spans (a SERVER root and 4 children),
all in one application (the worst case for tenant scoping), spread over the last
24 hours; 20 routes, 1,000 client IPs, ~3% 5xx. Each query is timed through the
Queries class (what a handler calls), the median of --runs runs after one warm-up.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from collector import migrate
from collector.queries import Queries
from collector.store import Store
from collector.timerange import NS, TimeRange

GENERATE = """
INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, Duration,
    StatusCode, AppId, HttpMethod, HttpRoute, HttpTarget, HttpStatusCode, ClientIp, UserAgent, SpanAttributes)
SELECT
    fromUnixTimestamp64Nano(toInt64({start_ns:Int64} + intDiv(number, 5) * {step_ns:Int64} + (number % 5) * 1000000)),
    lower(hex(MD5(toString(intDiv(number, 5))))),
    substring(lower(hex(MD5(toString(number)))), 1, 16),
    if(number % 5 = 0, '', substring(lower(hex(MD5(toString(number - number % 5)))), 1, 16)),
    if(number % 5 = 0, 'GET /api/r' || toString(intDiv(number, 5) % 20), 'db.query'),
    if(number % 5 = 0, 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT'),
    'shop-api',
    if(number % 5 = 0, 20000000, 2000000),
    if(status >= 500 AND number % 5 = 0, 'STATUS_CODE_ERROR', 'STATUS_CODE_UNSET'),
    'shop',
    if(number % 5 = 0, 'GET', ''),
    if(number % 5 = 0, '/api/r' || toString(intDiv(number, 5) % 20), ''),
    if(number % 5 = 0, '/api/r' || toString(intDiv(number, 5) % 20) || '/' || toString(number), ''),
    if(number % 5 = 0, status, 0),
    if(number % 5 = 0, '10.0.' || toString(intDiv(number, 5) % 4) || '.' || toString(intDiv(number, 20) % 250), ''),
    'Mozilla/5.0',
    map('http.route', '/api/r' || toString(intDiv(number, 5) % 20))
FROM (SELECT number, multiIf(cityHash64(intDiv(number, 5)) % 100 < 3, 500, cityHash64(intDiv(number, 5)) % 100 < 10, 404, 200) AS status
      FROM numbers({first:UInt64}, {count:UInt64}))
"""


def fill(store: Store, spans: int, chunk: int = 1_000_000) -> float:
    now = time.time_ns()
    start = now - 86400 * NS
    step = 86400 * NS * 5 // spans
    began = time.perf_counter()
    for first in range(0, spans, chunk):
        store.command(GENERATE, {"start_ns": start, "step_ns": step, "first": first, "count": min(chunk, spans - first)})
        print(f"  {first + chunk:,} spans", flush=True)
    return time.perf_counter() - began


async def timed(label: str, make, runs: int) -> None:
    await make()
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        await make()
        samples.append((time.perf_counter() - began) * 1000)
    print(f"{label:<44} median {statistics.median(samples):7.1f} ms   max {max(samples):7.1f} ms")


async def measure(store: Store, runs: int) -> None:
    q = Queries(store)
    now = time.time_ns()
    day = TimeRange(now - 86400 * NS, now)
    apps = ["shop"]
    page = await q.traces(apps, day, {}, 50)
    deep = (await q.traces(apps, TimeRange(now - 86400 * NS, now - 43200 * NS), {}, 50)).rows[-1]
    trace_id = page.rows[10]["TraceId"]
    await timed("traces list, 24h, first page of 50", lambda: q.traces(apps, day, {}, 50), runs)
    await timed("traces list, next page (cursor)", lambda: q.traces(
        apps, day, {"after_ns": page.last_key[0], "after_span": page.last_key[1]}, 50), runs)
    await timed("traces list, page 12 h deep (cursor)", lambda: q.traces(
        apps, TimeRange(day.start_ns, deep["StartNs"] + 1), {"after_ns": deep["StartNs"], "after_span": deep["SpanId"]}, 50), runs)
    await timed("traces list, status=5xx route=/api/r7", lambda: q.traces(
        apps, day, {"status_lo": 500, "status_hi": 599, "route": "/api/r7"}, 50), runs)
    await timed("traces list, ip=10.0.1.17", lambda: q.traces(apps, day, {"ip": "10.0.1.17"}, 50), runs)
    await timed("trace by id", lambda: q.trace(apps, trace_id, 10000), runs)
    await timed("analytics 5xx, 24h in 15m buckets", lambda: q.responses(apps, day.aligned(900), 900, (500, 599), 20), runs)
    await timed("analytics 2xx, 24h in 1m buckets", lambda: q.responses(apps, day.aligned(60), 60, (200, 299), 20), runs)
    await timed("500-errors, 24h", lambda: q.server_errors(apps, day.aligned(60), 100), runs)
    await timed("client IPs, 24h, by requests", lambda: q.client_ips("shop", day.aligned(60), "requests", "desc", 100, 0), runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--dir", default="/tmp/api-bench")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--reuse", action="store_true", help="measure the data already in --dir")
    args = parser.parse_args()
    store = Store(f"chdb://{args.dir}").open()
    if not args.reuse:
        migrate.migrate(store)
        print(f"filled {args.spans:,} spans in {fill(store, args.spans):.1f} s")
        store.command("OPTIMIZE TABLE otel_traces FINAL")
    rows = store.rows("SELECT count(), uniqExact(TraceId) FROM otel_traces")[0]
    print(f"{rows[0]:,} spans, {rows[1]:,} traces; parts: {store.rows('SELECT count() FROM system.parts WHERE active AND table = {t:String}', {'t': 'otel_traces'})[0][0]}")
    asyncio.run(measure(store, args.runs))
    store.close()


if __name__ == "__main__":
    main()
