"""The API's numbers against known traffic: traces, a trace, analytics, errors, IPs.

Spans go in through ``otlp_landing`` (the path every receiver's data takes) on a
fresh embedded store; the API runs on a real socket in this process.
"""
from __future__ import annotations

import os
import random

import pytest

from collector import migrate, tokens
from collector.timerange import iso, parse_time
from tests.api_support import NS, InProcessApi, at, day_base, insert, tree_request


@pytest.fixture
def store(fresh_store):
    migrate.migrate(fresh_store)
    return fresh_store


@pytest.fixture
def api(store):
    with InProcessApi(store) as server:
        server.token = tokens.create(store, ["shop"], "test")["token"]
        server.reload_tokens()
        yield server


def known_traffic(store, base: int) -> None:
    """base = HH:00:00 UTC. 17 server spans in app shop, 3 in app other."""
    insert(store, [
        at(base + 10 * NS, 5, status=200, route="/api/users/:id", ip="203.0.113.7"),
        at(base + 70 * NS, 3, status=503, method="POST", route="/orders", ip="198.51.100.4", duration_ns=40_000_000),
        at(base + 3599 * NS + 999_000_000, 1, status=404, route="/x", ip="10.0.0.1"),  # last ms of the first hour
        at(base + 3600 * NS, 4, status=301, route="/old", ip="203.0.113.7"),  # first ns of the second hour
        at(base + 3700 * NS, 2, status=404, route="/x", ip="10.0.0.1", service="admin-api"),
        at(base + 3800 * NS, 2, status=500, route="/api/users/:id", ip="203.0.113.7"),
    ], app_id="shop")
    insert(store, [at(base + 20 * NS, 3, status=500, route="/secret", ip="192.0.2.99")], app_id="other")


def test_status_analytics_count_exactly_with_utc_bucket_edges(store, api):
    base = day_base(10)
    known_traffic(store, base)
    window = {"from": iso(base), "to": iso(base + 2 * 3600 * NS), "interval": "1h"}
    status, body, _ = api.get("/api/analytics/4xx-responses", api.token, **window)
    assert status == 200, body
    assert body["total"] == 3 and body["intervalSeconds"] == 3600
    assert [(b["start"], b["count"]) for b in body["buckets"]] == [(iso(base), 1), (iso(base + 3600 * NS), 2)]
    assert body["byStatus"] == [{"status": 404, "count": 3}]
    assert body["byRoute"] == [{"route": "/x", "method": "GET", "count": 3}]
    _, body, _ = api.get("/api/analytics/3xx-responses", api.token, **window)
    assert [b["count"] for b in body["buckets"]] == [0, 4]
    _, body, _ = api.get("/api/analytics/5xx-responses", api.token, **window)
    assert body["total"] == 5  # app other's three 500s are not counted
    assert body["byStatus"] == [{"status": 500, "count": 2}, {"status": 503, "count": 3}]
    assert body["buckets"][0]["byStatus"] == {"503": 3} and body["buckets"][1]["byStatus"] == {"500": 2}
    _, body, _ = api.get("/api/analytics/2xx-responses", api.token, **dict(window, interval="1m"))
    assert body["total"] == 5 and len(body["buckets"]) == 120
    assert body["buckets"][0] == {"start": iso(base), "count": 5, "byStatus": {"200": 5}}


def test_offsets_in_times_are_honoured_and_answers_are_utc(store, api):
    base = day_base(10)
    known_traffic(store, base)
    # 12:00+02:00 is 10:00Z; a range given in another zone selects the same UTC hour
    day = iso(base)[:10]
    status, body, _ = api.get("/api/analytics/4xx-responses", api.token,
                              **{"from": f"{day}T12:00:00+02:00", "to": f"{day}T13:00:00+02:00", "interval": "1h"})
    assert status == 200, body
    assert body["from"] == iso(base) and body["buckets"] == [{"start": iso(base), "count": 1, "byStatus": {"404": 1}}]


def test_traces_list_rows_and_filters(store, api):
    base = day_base(10)
    known_traffic(store, base)
    window = {"from": iso(base), "to": iso(base + 2 * 3600 * NS)}
    status, body, _ = api.get("/api/traces", api.token, **window)
    assert status == 200, body
    rows = body["traces"]
    assert len(rows) == 17 and body["nextCursor"] is None
    starts = [parse_time(r["start"], "start", 0) for r in rows]
    assert starts == sorted(starts, reverse=True)
    newest = rows[0]
    assert (newest["status"], newest["route"], newest["error"], newest["spanCount"]) == (500, "/api/users/:id", True, 1)
    assert newest["start"] == iso(base + 3800 * NS + 1000) and newest["durationMs"] == 1.5
    assert (newest["clientIp"], newest["userAgent"], newest["service"], newest["appId"]) == ("203.0.113.7", "Mozilla/5.0", "shop-api", "shop")

    def count(**filters):
        status, body, _ = api.get("/api/traces", api.token, **window, **filters)
        assert status == 200, body
        return len(body["traces"])

    assert count(status="404") == 3 and count(status="5xx") == 5 and count(status="3xx") == 4
    assert count(method="post") == 3 and count(route="/x") == 3 and count(ip="10.0.0.1") == 3
    assert count(service="admin-api") == 2 and count(path="/api/users/") == 17 and count(path="/nope") == 0
    assert count(minDuration="39.9") == 3 and count(error="true") == 5 and count(error="false") == 17
    assert count(status="5xx", route="/orders") == 3 and count(app="shop") == 17


def test_pagination_neither_skips_nor_repeats_while_spans_arrive(store, api):
    base = day_base(10)
    # 60 traces in two applications, some sharing one timestamp, so the span id must break ties
    insert(store, [at(base + (i // 3) * NS, 1, status=200) for i in range(0, 60, 2)], app_id="shop")
    insert(store, [at(base + (i // 3) * NS, 1, status=200) for i in range(1, 60, 2)], app_id="shop-eu")
    token = tokens.create(store, ["shop", "shop-eu"])["token"]
    api.reload_tokens()
    expected = {r[0] for r in store.rows("SELECT SpanId FROM otel_traces")}
    seen, apps, cursor, pages, older = [], set(), None, 0, []
    while True:
        status, body, _ = api.get("/api/traces", token, limit=7, cursor=cursor, **{"from": "3d"})
        assert status == 200, body
        seen += [r["spanId"] for r in body["traces"]]
        apps |= {r["appId"] for r in body["traces"]}
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            break
        # spans arrive between pages: newer than every row, inside the part already paged,
        # and older than every row (late arrivals, which later pages must then show)
        late = at(base - 100 * NS - pages * NS, 1)
        older += [s.span_id.hex() for s in late.resource_spans[0].scope_spans[0].spans]
        insert(store, [at(base + 600 * NS + pages * NS, 2), at(base + 19 * NS + 500, 1), late])
    assert len(seen) == len(set(seen))
    assert expected | set(older) == set(seen) and apps == {"shop", "shop-eu"}
    assert pages > 60 // 7


def test_a_cursor_only_serves_the_filters_it_was_made_for(store, api):
    insert(store, [at(day_base(10), 5, status=200)])
    _, body, _ = api.get("/api/traces", api.token, limit=2, **{"from": "3d"})
    status, body, _ = api.get("/api/traces", api.token, limit=2, status="500", cursor=body["nextCursor"])
    assert status == 400 and "cursor" in body["error"]
    status, body, _ = api.get("/api/traces", api.token, cursor="eyJub3QiOiJhIGN1cnNvciJ9")
    assert status == 400 and body["error"] == "cursor: not a cursor this API gave out"


def test_trace_detail_is_a_tree_with_events_links_and_span_count(store, api):
    trace_id = os.urandom(16)
    request, ids = tree_request(trace_id, day_base(10))
    insert(store, [request])
    status, body, _ = api.get(f"/api/traces/{trace_id.hex().upper()}", api.token)
    assert status == 200, body
    assert (body["spanCount"], body["returned"], body["truncated"]) == (4, 4, False)
    order = [(s["spanId"], s["depth"]) for s in body["spans"]]
    assert order == [(ids[0], 0), (ids[2], 1), (ids[3], 2), (ids[1], 1)]
    root = body["spans"][0]
    assert root["parentSpanId"] is None and root["kind"] == "SPAN_KIND_SERVER"
    assert root["events"][0]["name"] == "exception" and root["events"][0]["attributes"]["exception.type"] == "KeyError"
    assert len(root["links"]) == 1 and len(root["links"][0]["spanId"]) == 16
    _, listed, _ = api.get("/api/traces", api.token, **{"from": "3d"})
    assert [(t["traceId"], t["spanCount"]) for t in listed["traces"]] == [(trace_id.hex(), 4)]


def test_a_huge_trace_is_capped_and_says_so(store):
    trace_id = os.urandom(16)
    request = at(day_base(10), 2500)
    for span in request.resource_spans[0].scope_spans[0].spans:
        span.trace_id = trace_id
    insert(store, [request])
    with InProcessApi(store, api_trace_max_spans=1000) as server:
        token = tokens.create(store, ["shop"])["token"]
        server.reload_tokens()
        status, body, _ = server.get(f"/api/traces/{trace_id.hex()}", token)
    assert status == 200
    assert (body["spanCount"], body["returned"], body["truncated"]) == (2500, 1000, True)
    assert "2500" in body["message"] and len(body["spans"]) == 1000


def test_server_errors_grouped_with_first_last_seen_and_samples(store, api):
    base = day_base(10)
    known_traffic(store, base)
    request, _ = tree_request(os.urandom(16), base + 5 * NS, app_error=True)
    insert(store, [request])
    status, body, _ = api.get("/api/analytics/500-errors", api.token, **{"from": iso(base), "to": iso(base + 7200 * NS)})
    assert status == 200, body
    assert body["total"] == 6 and body["groups"] == 3
    first = body["errors"][0]
    assert (first["route"], first["method"], first["status"], first["count"]) == ("/orders", "POST", 503, 3)
    assert first["firstSeen"] == iso(base + 70 * NS) and first["lastSeen"] == iso(base + 70 * NS + 2000)
    assert len(first["sampleTraceIds"]) == 3
    cart = next(e for e in body["errors"] if e["route"] == "/cart")
    assert (cart["errorType"], cart["message"], cart["count"]) == ("KeyError", "cart 7", 1)


def test_client_ips_with_counts_routes_sorting_and_pages(store, api):
    base = day_base(10)
    known_traffic(store, base)
    window = {"from": iso(base), "to": iso(base + 7200 * NS)}
    status, body, _ = api.get("/api/applications/shop/ips", api.token, **window)
    assert status == 200, body
    assert body["total"] == 3
    top = body["ips"][0]
    assert (top["ip"], top["requests"], top["errors"], top["serverErrors"]) == ("203.0.113.7", 11, 2, 2)
    assert top["topRoutes"] == [{"route": "/api/users/:id", "requests": 7}, {"route": "/old", "requests": 4}]
    assert top["firstSeen"] == iso(base + 10 * NS) and top["lastSeen"] == iso(base + 3800 * NS + 1000)
    _, body, _ = api.get("/api/applications/shop/ips", api.token, sort="errors", limit=1, offset=1, **window)
    # 10.0.0.1 and 198.51.100.4 both have 3 errors: the address breaks the tie
    assert [i["ip"] for i in body["ips"]] == ["198.51.100.4"] and body["nextOffset"] == 2
    _, body, _ = api.get("/api/applications/shop/ips", api.token, sort="ip", **window)
    assert [i["ip"] for i in body["ips"]] == ["10.0.0.1", "198.51.100.4", "203.0.113.7"]


def test_rollups_equal_a_direct_count_over_the_raw_spans(store, api):
    rng = random.Random(7)
    base = day_base(8)
    statuses = [200, 201, 204, 301, 302, 304, 400, 401, 404, 500, 502, 503]
    requests = [at(base + rng.randrange(3 * 3600) * NS + rng.randrange(NS), rng.randint(1, 4),
                   status=rng.choice(statuses), route=rng.choice(["/a", "/b/:id", "/c"]),
                   method=rng.choice(["GET", "POST"]), ip=f"10.0.0.{rng.randint(1, 6)}") for _ in range(300)]
    insert(store, requests[:150], token="seg-1")
    insert(store, requests[:150], token="seg-1")  # a retried insert is not counted twice
    insert(store, requests[150:])
    window = {"from": iso(base), "to": iso(base + 3 * 3600 * NS)}
    for cls, lo in (("2xx", 200), ("3xx", 300), ("4xx", 400), ("5xx", 500)):
        _, body, _ = api.get(f"/api/analytics/{cls}-responses", api.token, interval="15m", **window)
        raw = store.rows(
            "SELECT intDiv(toUnixTimestamp(Timestamp), 900) * 900, count() FROM otel_traces"
            " WHERE AppId = 'shop' AND SpanKind = 'SPAN_KIND_SERVER' AND HttpStatusCode BETWEEN {lo:UInt16} AND {hi:UInt16}"
            " GROUP BY 1 ORDER BY 1", {"lo": lo, "hi": lo + 99})
        assert {b["start"]: b["count"] for b in body["buckets"] if b["count"]} == {iso(s * NS): c for s, c in raw}
        assert body["total"] == sum(c for _, c in raw) > 0
    _, body, _ = api.get("/api/analytics/500-errors", api.token, **window)
    raw = store.rows("SELECT HttpRoute, HttpMethod, HttpStatusCode, count() FROM otel_traces WHERE HttpStatusCode >= 500 GROUP BY 1, 2, 3")
    assert {(e["route"], e["method"], e["status"]): e["count"] for e in body["errors"]} == {(r, m, s): c for r, m, s, c in raw}
    _, body, _ = api.get("/api/applications/shop/ips", api.token, **window)
    raw = store.rows("SELECT ClientIp, count(), countIf(HttpStatusCode >= 400) FROM otel_traces GROUP BY 1")
    assert {i["ip"]: (i["requests"], i["errors"]) for i in body["ips"]} == {ip: (n, e) for ip, n, e in raw}
    assert store.rows("SELECT count() FROM otel_traces")[0][0] == sum(len(r.resource_spans[0].scope_spans[0].spans) for r in requests)


@pytest.mark.slow
def test_a_trace_of_100000_spans_answers_the_default_cap(store, api):
    trace_id = os.urandom(16)
    requests = [at(day_base(10) + i * NS, 10_000) for i in range(10)]
    for request in requests:
        for span in request.resource_spans[0].scope_spans[0].spans:
            span.trace_id = trace_id
    insert(store, requests)
    status, body, _ = api.get(f"/api/traces/{trace_id.hex()}", api.token)
    assert status == 200
    assert (body["spanCount"], body["returned"], body["truncated"]) == (100_000, 10_000, True)
