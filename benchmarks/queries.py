"""Query latency on a large stored dataset: generate it fast, then time each read.

Step 1 (skipped when the store already holds the dataset): 1,000-span requests
are inserted straight into the landing table, spread evenly over the last 24 h,
across ``--apps`` applications (and the pool's services, routes, statuses and
client addresses). Step 2: merge (OPTIMIZE FINAL) and measure bytes per span.
Step 3: each query ``--runs`` times with varying parameters; p50/p99 in ms.

Until the query API is served, the queries are the equivalent SQL run directly
on the store (``--mode sql``); ``--mode api`` times the real HTTP endpoints of a
``collector serve`` started on the same data directory.

    python -m benchmarks.queries --spans 10000000 --data-dir bench-data/queries
"""
from __future__ import annotations

import argparse
import datetime
import http.client
import random
import time
from pathlib import Path
from urllib.parse import quote, urlencode

from benchmarks import common
from benchmarks.otlp_pool import Pool
from benchmarks.store_ceiling import build_segments, bytes_per_span, insert_segments, open_store

DAY_NS = 86_400 * 10**9
TARGET_MS = {"trace_by_id": 20, "traces_list": 50, "traces_list_filtered": 50, "traces_list_by_ip": 50}
ANALYTICS_TARGET_MS = 100

# The SQL the API is expected to run, scoped to one application and the last 24 h.
WINDOW = "AppId = {app:String} AND Timestamp >= {since:DateTime64(9)}"
LIST_COLUMNS = ("TraceId, Timestamp, Duration, HttpMethod, HttpRoute, HttpTarget, HttpStatusCode, ClientIp, "
                "UserAgent, ServiceName")
SQL = {
    "trace_by_id": (
        "SELECT TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, Timestamp, Duration, StatusCode, "
        "SpanAttributes, Events.Name, Links.TraceId FROM otel_traces WHERE AppId = {app:String} AND TraceId = {trace:String} "
        "AND Timestamp >= (SELECT min(Start) FROM otel_traces_trace_id_ts WHERE TraceId = {trace:String}) "
        "AND Timestamp <= (SELECT max(End) + 1 FROM otel_traces_trace_id_ts WHERE TraceId = {trace:String}) "
        "ORDER BY Timestamp LIMIT 10000"),
    "traces_list": (
        f"SELECT {LIST_COLUMNS} FROM otel_traces WHERE {WINDOW} AND ParentSpanId = '' ORDER BY Timestamp DESC LIMIT 50"),
    "traces_list_filtered": (
        f"SELECT {LIST_COLUMNS} FROM otel_traces WHERE {WINDOW} AND ParentSpanId = '' AND HttpStatusCode >= 500 "
        "AND HttpRoute = {route:String} ORDER BY Timestamp DESC LIMIT 50"),
    "traces_list_by_ip": (
        f"SELECT {LIST_COLUMNS} FROM otel_traces WHERE {WINDOW} AND ParentSpanId = '' "
        "AND ClientIp = {ip:String} ORDER BY Timestamp DESC LIMIT 50"),
}
for _low, _name in ((200, "2xx"), (300, "3xx"), (400, "4xx"), (500, "5xx")):
    SQL[f"analytics_{_name}"] = (
        "SELECT toStartOfHour(Timestamp) AS bucket, HttpStatusCode, HttpRoute, count() AS n FROM otel_traces "
        f"WHERE {WINDOW} AND HttpStatusCode BETWEEN {_low} AND {_low + 99} "
        "GROUP BY bucket, HttpStatusCode, HttpRoute ORDER BY bucket")
SQL["analytics_500_errors"] = (
    "SELECT HttpRoute, HttpMethod, HttpStatusCode, StatusMessage, count() AS n, min(Timestamp), max(Timestamp), "
    f"groupArray(3)(TraceId) FROM otel_traces WHERE {WINDOW} AND HttpStatusCode >= 500 "
    "GROUP BY HttpRoute, HttpMethod, HttpStatusCode, StatusMessage ORDER BY n DESC LIMIT 100")
SQL["analytics_ips"] = (
    "SELECT ClientIp, count() AS n, countIf(HttpStatusCode >= 400) AS errors, min(Timestamp), max(Timestamp), "
    f"topK(3)(HttpRoute) FROM otel_traces WHERE {WINDOW} GROUP BY ClientIp ORDER BY n DESC LIMIT 50")


def apps(n: int) -> list[str]:
    return [f"bench-app-{i}" for i in range(1, n + 1)]


def generate(store, spans: int, n_apps: int, segment_mib: int = 32) -> dict:
    """Insert ``spans`` spans spread over the 24 h before now; seconds per step."""
    requests = spans // 1000
    spacing = DAY_NS // spans
    start = time.time_ns() - DAY_NS
    pool = Pool("protobuf", templates=32, start_ns=start, spacing_ns=spacing)
    shift = lambda i: i * 1000 * spacing  # noqa: E731 - request i follows request i-1 in time
    built = inserted = 0.0
    per_chunk = max(1, (segment_mib << 20) // len(pool.templates[0].body)) * 8
    for first in range(0, requests, per_chunk):
        count = min(per_chunk, requests - first)
        t0 = time.perf_counter()
        segments = build_segments(pool, count * 1000, segment_mib << 20, apps(n_apps), lambda i: shift(first + i))
        t1 = time.perf_counter()
        insert_segments(store, segments, f"gen-{first}")
        built, inserted = built + t1 - t0, inserted + time.perf_counter() - t1
        done = first + count
        print(f"  generated {done * 1000:,} spans, {done * 1000 / inserted:,.0f} spans/s inserting", flush=True)
    return {"build_s": round(built, 1), "insert_s": round(inserted, 1), "insert_spans_per_s": round(spans / inserted)}


def samples(store, n_apps: int, runs: int) -> list[dict]:
    """Parameters for each run: an application, a trace id of it, a route, a busy client address."""
    rng = random.Random(3)
    traces = store.rows(
        "SELECT AppId, TraceId FROM otel_traces ORDER BY rand() LIMIT {n:UInt32}", {"n": runs})
    ips = [r[0] for r in store.rows("SELECT ClientIp FROM otel_traces GROUP BY ClientIp ORDER BY count() DESC LIMIT 50")]
    routes = [r[0] for r in store.rows("SELECT DISTINCT HttpRoute FROM otel_traces WHERE HttpStatusCode >= 500 LIMIT 20")]
    # The 24 h end at the newest span, so a dataset made earlier is still read as "the last 24 h".
    newest = store.rows("SELECT toUnixTimestamp64Nano(max(Timestamp)) FROM otel_traces")[0][0]
    since = newest / 1e9 - 86_400
    return [{"app": app, "trace": trace, "ip": rng.choice(ips), "route": rng.choice(routes), "since": since}
            for app, trace in traces]


def time_sql(store, params: list[dict]) -> dict:
    figures = {}
    settings = {"use_query_cache": 0}
    for name, sql in SQL.items():
        ms, rows = [], 0
        for p in params:
            t0 = time.perf_counter()
            result = store.rows(sql, p, settings)
            ms.append((time.perf_counter() - t0) * 1000)
            rows += len(result)
        figures[name] = _summary(name, ms, {"rows_avg": round(rows / len(params), 1)})
    return figures


def _iso(unix_s: float) -> str:
    return datetime.datetime.fromtimestamp(unix_s, datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def api_paths(p: dict) -> dict[str, str]:
    """The HTTP request of each figure for one sample of parameters."""
    window = {"app": p["app"], "from": _iso(p["since"]), "to": _iso(p["since"] + 86_400 + 1)}
    paths = {
        "trace_by_id": f"/api/traces/{p['trace']}",
        "traces_list": "/api/traces?" + urlencode(window),
        "traces_list_filtered": "/api/traces?" + urlencode({**window, "status": "5xx", "route": p["route"]}),
        "traces_list_by_ip": "/api/traces?" + urlencode({**window, "ip": p["ip"]}),
    }
    for name in ("2xx", "3xx", "4xx", "5xx"):
        paths[f"analytics_{name}"] = f"/api/analytics/{name}-responses?" + urlencode(window)
    paths["analytics_500_errors"] = "/api/analytics/500-errors?" + urlencode(window)
    paths["analytics_ips"] = f"/api/applications/{quote(p['app'])}/ips?" + urlencode({k: window[k] for k in ("from", "to")})
    return paths


def time_api(port: int, token: str, params: list[dict]) -> dict:
    """Each endpoint over one kept-alive connection, as a dashboard would call it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    figures = {}
    try:
        for name in api_paths(params[0]):
            ms, failures = [], 0
            for p in params:
                t0 = time.perf_counter()
                conn.request("GET", api_paths(p)[name], headers=headers)
                resp = conn.getresponse()
                resp.read()
                ms.append((time.perf_counter() - t0) * 1000)
                failures += resp.status != 200
            figures[name] = _summary(name, ms, {"non_200": failures})
    finally:
        conn.close()
    return figures


def _summary(name: str, ms: list[float], extra: dict) -> dict:
    target = TARGET_MS.get(name, ANALYTICS_TARGET_MS)
    entry = {"p50_ms": round(common.percentile(ms, 50), 1), "p99_ms": round(common.percentile(ms, 99), 1),
             "target_ms": target, **extra}
    print(f"  {name:24s} p50 {entry['p50_ms']:7.1f} ms  p99 {entry['p99_ms']:7.1f} ms  (target {target}) {extra}", flush=True)
    return entry


def project_calls(p: dict) -> dict:
    """The API's own queries (collector.queries) for each figure, without HTTP."""
    from collector.timerange import NS, TimeRange, choose_interval

    rng = TimeRange(int(p["since"] * NS), int((p["since"] + 86_400 + 1) * NS))
    step = choose_interval(rng, None, 1500)
    calls = {
        "trace_by_id": lambda q: q.trace([p["app"]], p["trace"], 10000),
        "traces_list": lambda q: q.traces([p["app"]], rng, {}, 50),
        "traces_list_filtered": lambda q: q.traces([p["app"]], rng, {"status_lo": 500, "status_hi": 599, "route": p["route"]}, 50),
        "traces_list_by_ip": lambda q: q.traces([p["app"]], rng, {"ip": p["ip"]}, 50),
    }
    for low, name in ((200, "2xx"), (300, "3xx"), (400, "4xx"), (500, "5xx")):
        calls[f"analytics_{name}"] = (lambda lo: lambda q: q.responses([p["app"]], rng.aligned(step), step, (lo, lo + 99), 20))(low)
    calls["analytics_500_errors"] = lambda q: q.server_errors([p["app"]], rng.aligned(60), 100)
    calls["analytics_ips"] = lambda q: q.client_ips(p["app"], rng.aligned(60), "requests", "desc", 100, 0)
    return calls


def time_project_queries(store, params: list[dict]) -> dict:
    import asyncio

    from collector.queries import Queries

    queries, figures = Queries(store), {}
    for name in project_calls(params[0]):
        ms = []
        for p in params:
            t0 = time.perf_counter()
            asyncio.run(project_calls(p)[name](queries))
            ms.append((time.perf_counter() - t0) * 1000)
        figures[name] = _summary(name, ms, {})
    return figures


def serve_and_time(data_dir: Path, n_apps: int, params: list[dict]) -> dict:
    """``collector serve`` on the dataset (its own process, as in production), then the API timed."""
    from collector import tokens
    from tests.harness import ServiceProcess

    store = open_store(data_dir)
    try:
        token = tokens.create(store, apps(n_apps), "bench")["token"]
    finally:
        store.close()
    with ServiceProcess(data_dir, args=["--log-level", "warning", "--api-rate-limit", "1000000"]) as svc:
        return time_api(svc.api_port, token, params)


def run(spans: int, n_apps: int, data_dir: Path, runs: int, measure_bytes: bool, mode: str = "api") -> dict:
    steps = {}
    t0 = time.perf_counter()
    store = open_store(data_dir)
    try:
        have = store.rows("SELECT count() FROM otel_traces")[0][0]
        if have < spans:
            if have:
                store.command("TRUNCATE TABLE otel_traces")
                store.command("TRUNCATE TABLE otel_traces_trace_id_ts")
            print(f"step 1: generating {spans:,} spans over 24 h in {n_apps} apps", flush=True)
            steps["generate"] = generate(store, spans, n_apps)
        else:
            print(f"step 1: reusing the {have:,} spans already stored", flush=True)
        steps["generate_total_s"] = round(time.perf_counter() - t0, 1)
        t1 = time.perf_counter()
        disk = bytes_per_span(store) if measure_bytes else None
        steps["optimize_s"] = round(time.perf_counter() - t1, 1)
        print(f"step 2: merged in {steps['optimize_s']} s; bytes/span {disk and disk['bytes_per_span']}", flush=True)
        t2 = time.perf_counter()
        print(f"step 3: {runs} runs of each query ({mode})", flush=True)
        params = samples(store, n_apps, runs)
        latency = {"sql": time_sql, "queries": time_project_queries}.get(mode, lambda *_: None)(store, params)
        stored = store.rows("SELECT count() FROM otel_traces")[0][0]
    finally:
        store.close()
    if mode == "api":
        latency = serve_and_time(data_dir, n_apps, params)
    steps["queries_s"] = round(time.perf_counter() - t2, 1)
    return {"stored_spans": stored, "steps": steps, "disk": disk, "latency": latency}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=10_000_000)
    parser.add_argument("--apps", type=int, default=4)
    parser.add_argument("--runs", type=int, default=50, help="runs of each query")
    parser.add_argument("--data-dir", type=Path, default=common.ROOT / "bench-data" / "queries")
    parser.add_argument("--mode", choices=("api", "queries", "sql"), default="api",
                        help="api: the HTTP API of collector serve; queries: the API's own SQL (collector.queries) "
                             "in-process; sql: simpler equivalent SQL on the raw spans")
    parser.add_argument("--no-bytes", dest="bytes", action="store_false", help="skip OPTIMIZE FINAL and bytes per span")
    common.add_results_argument(parser)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    figures = run(args.spans, args.apps, args.data_dir, args.runs, args.bytes, args.mode)
    figures["total_s"] = round(time.perf_counter() - started, 1)
    common.record("queries", figures, {"spans": args.spans, "apps": args.apps, "runs": args.runs, "mode": args.mode}, args.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
