"""Parts of the API without a store: times, limits, cursors, filters, trace trees."""
from __future__ import annotations

import pytest
from multidict import MultiDict

from collector.apiparams import BadRequest, Params, decode_cursor, encode_cursor, fingerprint, trace_id
from collector.queries import TRACE_FILTERS, compose_traces_list
from collector.ratelimit import RateLimiter, RateLimitSpecError, parse_limits
from collector.timerange import NS, BadRange, TimeRange, choose_interval, iso, parse_range, parse_time
from collector.tracetree import tree_order

NOW = 1_796_300_000 * NS  # 2026-12-03T09:33:20Z


def test_times_absolute_relative_and_zoned():
    assert parse_time("15m", "from", NOW) == NOW - 900 * NS
    assert parse_time("2026-12-03T10:00:00Z", "from", NOW) == parse_time("2026-12-03T11:30:00+01:30", "from", NOW)
    assert parse_time("2026-12-03T10:00:00", "from", NOW) == parse_time("2026-12-03T10:00:00Z", "from", NOW)
    assert iso(parse_time("2026-12-03T10:00:00.000123Z", "from", NOW)) == "2026-12-03T10:00:00.000123Z"
    for bad in ("yesterday", "15 m", "-5m", "2026-13-01T00:00:00Z", "9999999d"):
        with pytest.raises(BadRange, match="^from: "):
            parse_time(bad, "from", NOW)


def test_ranges_refuse_reversed_and_huge():
    assert parse_range(None, None, 3600, 86400, NOW) == TimeRange(NOW - 3600 * NS, NOW)
    with pytest.raises(BadRange, match="earlier"):
        parse_range("1h", "2h", 3600, 86400, NOW)
    with pytest.raises(BadRange, match="maximum of 1 days"):
        parse_range("25h", None, 3600, 86400, NOW)


def test_intervals_align_to_utc_epoch_steps():
    day = TimeRange(NOW - 86400 * NS, NOW)
    assert choose_interval(day, None, 1500) == 900
    assert choose_interval(TimeRange(NOW - 3600 * NS, NOW), None, 1500) == 60
    aligned = TimeRange(NOW - 90 * NS, NOW + 10 * NS).aligned(3600)
    assert aligned.start_ns % (3600 * NS) == 0 and aligned.end_ns % (3600 * NS) == 0
    assert aligned.start_ns <= NOW - 90 * NS and aligned.end_ns >= NOW + 10 * NS
    with pytest.raises(BadRange, match="whole number of minutes"):
        choose_interval(day, "90s", 1500)


def test_rate_limiter_bursts_then_refills_per_client_and_route():
    clock = [0.0]
    limiter = RateLimiter(60, parse_limits("/api/traces=2,/api/analytics/*=5"), clock=lambda: clock[0])
    assert [limiter.check("a", "/api/traces")[0] for _ in range(3)] == [True, True, False]
    allowed, limit, wait = limiter.check("a", "/api/traces")
    assert (allowed, limit) == (False, 2) and wait == pytest.approx(30)
    assert limiter.check("b", "/api/traces")[0]  # another client has its own bucket
    assert limiter.limit_for("/api/analytics/5xx-responses") == 5 and limiter.limit_for("/api/x") == 60
    clock[0] = 30.0
    assert limiter.check("a", "/api/traces")[0]
    with pytest.raises(RateLimitSpecError):
        parse_limits("traces=5")


def test_rate_limiter_memory_is_bounded():
    limiter = RateLimiter(10, max_clients=100, clock=lambda: 0.0)
    for i in range(1000):
        limiter.check(f"10.0.{i // 256}.{i % 256}", "/api/traces")
    assert len(limiter._buckets) <= 100


def test_cursor_round_trip_and_refusals():
    made_for = fingerprint({"route": "/a"}, ["shop"])
    cursor = encode_cursor(NOW, "00ff00ff00ff00ff", NOW - NS, NOW + NS, made_for)
    assert decode_cursor(cursor, made_for) == (NOW, "00ff00ff00ff00ff", NOW - NS, NOW + NS)
    with pytest.raises(BadRequest, match="other filters"):
        decode_cursor(cursor, fingerprint({"route": "/b"}, ["shop"]))
    for bad in ("", "!!!", cursor[:-3], "WzEsLTEsIngiLDAsMSwiIl0"):
        with pytest.raises(BadRequest, match="^cursor: "):
            decode_cursor(bad, made_for)


def test_params_shapes():
    p = Params(MultiDict(status="5xx", method="post", ip="::1", minDuration="2.5", error="1", limit="7"))
    assert (p.status(), p.method(), p.ip(), p.min_duration_ns(), p.boolean("error")) == ((500, 599), "POST", "::1", 2_500_000, True)
    assert p.integer("limit", 50, 1, 1000) == 7 and Params(MultiDict(status="404")).status() == (404, 404)
    assert trace_id("AB" * 16) == "ab" * 16
    with pytest.raises(BadRequest, match="^status: "):
        Params(MultiDict(status="5x")).status()


def test_traces_sql_holds_only_whitelisted_fragments_and_values_stay_parameters():
    hostile = "x' OR 1=1 --"
    sql, params = compose_traces_list({"route": hostile, "status_lo": 500, "status_hi": 599, "error": True})
    assert hostile not in sql and params["route"] == hostile
    assert TRACE_FILTERS["route"] in sql and TRACE_FILTERS["status"] in sql and TRACE_FILTERS["error"] in sql
    assert TRACE_FILTERS["ip"] not in sql and "error" not in params
    with pytest.raises(ValueError):
        compose_traces_list({"1=1 OR route": "x"})


def span(span_id, parent, start):
    return {"SpanId": span_id, "ParentSpanId": parent, "StartNs": start}


def test_tree_order_depth_first_orphans_and_cycles_kept():
    spans = [span("c", "a", 3), span("a", "", 1), span("b", "a", 2), span("d", "b", 4), span("o", "missing", 0),
             span("x", "y", 5), span("y", "x", 6)]
    order = [(s["SpanId"], d) for s, d in tree_order(spans)]
    assert order[:5] == [("o", 0), ("a", 0), ("b", 1), ("d", 2), ("c", 1)]
    assert sorted(order[5:]) == [("x", 0), ("y", 0)]  # a cycle of parents: both shown as roots
    assert len(order) == len(spans)


def test_a_100000_deep_chain_does_not_recurse():
    spans = [span(str(i), str(i - 1) if i else "", i) for i in range(100_000)]
    order = tree_order(spans)
    assert len(order) == 100_000 and order[-1][1] == 99_999
