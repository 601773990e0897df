"""Who may see what, and what the API answers to bad or hostile input."""
from __future__ import annotations

import os
import uuid
from urllib.parse import quote

import pytest

from collector import metrics, migrate, tokens
from collector.store import Store
from tests.conftest import url_with_database
from tests.api_support import InProcessApi, at, day_base, insert, tree_request

ENDPOINTS = ["/api/traces", "/api/analytics/2xx-responses", "/api/analytics/5xx-responses",
             "/api/analytics/500-errors", "/api/applications/shop/ips", "/api/traces/" + "ab" * 16]
INJECTIONS = ["' OR 1=1 --", "shop' OR AppId != '", "1; DROP TABLE otel_traces", "x}) OR ({y:String}",
              "\\' OR \\'1\\'=\\'1", "%' UNION SELECT * FROM api_tokens --", "{apps:Array(String)}"]


@pytest.fixture(scope="module")
def world(store_base_url):
    """Two tenants with data; a token for each, one revoked token (read-only: shared by the module)."""
    fresh_store = Store(url_with_database(store_base_url, "t_" + uuid.uuid4().hex[:12])).open()
    migrate.migrate(fresh_store)
    base = day_base(10)
    shop_trace = os.urandom(16)
    other_trace = os.urandom(16)
    insert(fresh_store, [at(base, 3, status=500), tree_request(shop_trace, base + 10)[0]], app_id="shop")
    insert(fresh_store, [at(base, 4, status=500, ip="192.0.2.50"), tree_request(other_trace, base + 20)[0]], app_id="other")
    with InProcessApi(fresh_store) as server:
        server.shop = tokens.create(fresh_store, ["shop"])["token"]
        server.other = tokens.create(fresh_store, ["other"])["token"]
        revoked = tokens.create(fresh_store, ["shop"])
        tokens.revoke(fresh_store, revoked["id"])
        server.revoked = revoked["token"]
        server.shop_trace, server.other_trace = shop_trace.hex(), other_trace.hex()
        server.store = fresh_store
        server.reload_tokens()
        yield server
    fresh_store.command(f"DROP DATABASE IF EXISTS `{fresh_store.database}`")
    fresh_store.close()


@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_endpoint_needs_a_valid_unrevoked_token(world, path):
    before = metrics.AUTH_FAILURES.labels("api", "invalid")._value.get()
    assert world.get(path)[:2] == (401, {"error": "Authentication required"})
    for token in ("snk_api_wrong", world.revoked, "", "Basic Zm9vOmJhcg=="):
        status, body, headers = world.get(path, token)
        assert status == 401 and body["error"] in ("Invalid or revoked token", "Authentication required"), (token, body)
        assert headers["WWW-Authenticate"] == "Bearer"
    assert metrics.AUTH_FAILURES.labels("api", "invalid")._value.get() > before


def test_another_tenants_trace_answers_404_like_a_missing_one(world):
    assert world.get(f"/api/traces/{world.shop_trace}", world.shop)[0] == 200
    status, body, _ = world.get(f"/api/traces/{world.other_trace}", world.shop)
    assert (status, body) == (404, {"error": "Trace not found"})
    assert world.get("/api/traces/" + "0" * 32, world.shop)[:2] == (404, {"error": "Trace not found"})


def test_another_tenants_application_answers_404_by_filter_and_by_id(world):
    for path in ENDPOINTS[:4]:
        status, body, _ = world.get(path, world.shop, app="other")
        assert (status, body) == (404, {"error": "Application 'other' not found"}), path
        status, _, _ = world.get(path, world.shop, app="shop,other")
        assert status == 404
    assert world.get("/api/applications/other/ips", world.shop)[:2] == (404, {"error": "Application 'other' not found"})
    assert world.get("/api/applications/nope/ips", world.shop)[:2] == (404, {"error": "Application 'nope' not found"})


def test_a_token_sees_only_its_own_rows(world):
    _, body, _ = world.get("/api/traces", world.shop, **{"from": "3d"})
    assert {t["appId"] for t in body["traces"]} == {"shop"} and len(body["traces"]) == 4
    _, body, _ = world.get("/api/analytics/500-errors", world.shop, **{"from": "3d"})
    assert body["total"] == 3
    _, body, _ = world.get("/api/traces", world.shop, ip="192.0.2.50", **{"from": "3d"})
    assert body["traces"] == []


@pytest.mark.parametrize("value", INJECTIONS)
def test_sql_injection_in_every_filter_is_inert(world, value):
    counts = world.store.rows("SELECT count() FROM otel_traces")[0][0]
    for name in ("route", "path", "service"):
        status, body, _ = world.get("/api/traces", world.shop, **{name: value, "from": "3d"})
        assert (status, body["traces"]) == (200, []), (name, body)
    for name, path in (("method", "/api/traces"), ("ip", "/api/traces"), ("status", "/api/traces"),
                       ("minDuration", "/api/traces"), ("error", "/api/traces"), ("limit", "/api/traces"),
                       ("cursor", "/api/traces"), ("from", "/api/traces"), ("to", "/api/analytics/5xx-responses"),
                       ("interval", "/api/analytics/5xx-responses"), ("sort", "/api/applications/shop/ips"),
                       ("order", "/api/applications/shop/ips"), ("offset", "/api/applications/shop/ips")):
        status, body, _ = world.get(path, world.shop, **{name: value})
        assert status == 400 and body["error"].startswith(f"{name}: "), (name, body)
    for path in ("/api/traces", "/api/analytics/500-errors"):
        assert world.get(path, world.shop, app=value)[0] == 404
    assert world.get("/api/applications/" + quote(value, safe="") + "/ips", world.shop)[0] == 404
    # the router itself refuses braces in a path segment (404); anything else is not a trace id (400)
    status, body, _ = world.get("/api/traces/" + quote(value, safe=""), world.shop)
    assert (status, "error" in body) in ((400, True), (404, True))
    assert world.store.rows("SELECT count() FROM otel_traces")[0][0] == counts


@pytest.mark.parametrize("path, params, message", [
    ("/api/traces", {"limit": "-1"}, "limit: -1 is outside 1..1000"),
    ("/api/traces", {"limit": "100000"}, "limit: 100000 is outside 1..1000"),
    ("/api/traces", {"limit": "ten"}, "limit: 'ten' is not an integer"),
    ("/api/traces", {"from": "3650d"}, "from/to: the range is longer than the maximum of 90 days"),
    ("/api/traces", {"from": "1999-01-01T00:00:00Z"}, "from: '1999-01-01T00:00:00Z' is outside the years 2000-2100"),
    ("/api/traces", {"from": "1h", "to": "2h"}, "from: must be earlier than to"),
    ("/api/traces", {"from": "yesterday"}, "from: 'yesterday' is neither an ISO 8601 time nor a relative time like 15m, 24h, 7d"),
    ("/api/traces", {"status": "600"}, "status: '600' must be a status code (100-599) or a class like 5xx"),
    ("/api/traces", {"ip": "999.1.1.1"}, "ip: '999.1.1.1' is not an IPv4 or IPv6 address"),
    ("/api/traces", {"minDuration": "-5"}, "minDuration: '-5' must be between 0 and 86400000 milliseconds"),
    ("/api/traces", {"route": "x" * 600}, "route: longer than 512 characters"),
    ("/api/traces/xyz", {}, "traceId: must be 32 hexadecimal characters"),
    ("/api/traces/" + "a" * 33, {}, "traceId: must be 32 hexadecimal characters"),
    ("/api/analytics/4xx-responses", {"interval": "1s"}, "interval: '1s' must be a whole number of minutes (the rollups are per minute)"),
    ("/api/analytics/4xx-responses", {"from": "60d", "interval": "1m"}, "interval: '1m' gives more than 1500 buckets over this range; use a longer one"),
    ("/api/applications/shop/ips", {"sort": "password"}, "sort: 'password' must be one of requests, errors, lastSeen, firstSeen, ip"),
    ("/api/applications/shop/ips", {"offset": "-3"}, "offset: -3 is outside 0..1000000"),
])
def test_absurd_values_answer_400_with_a_clear_message(world, path, params, message):
    status, body, _ = world.get(path, world.shop, **params)
    assert (status, body) == (400, {"error": message})


def test_unknown_paths_and_methods_answer_json(world):
    status, body, _ = world.get("/api/nothing", world.shop)
    assert status == 404 and body == {"error": "Not Found"}


def test_rate_limit_answers_429_with_retry_after(fresh_store):
    migrate.migrate(fresh_store)
    with InProcessApi(fresh_store, api_rate_limit=1000, api_rate_limits="/api/traces=3") as server:
        token = tokens.create(fresh_store, ["shop"])["token"]
        server.reload_tokens()
        statuses = [server.get("/api/traces", token)[0] for _ in range(3)]
        status, body, headers = server.get("/api/traces", token)
        other_route = server.get("/api/analytics/500-errors", token)[0]
    assert statuses == [200, 200, 200]
    assert status == 429 and body["error"] == "Rate limit exceeded. Max 3 requests per minute."
    assert 1 <= body["retryAfter"] <= 20 and headers["Retry-After"] == str(body["retryAfter"])
    assert other_route == 200
    assert metrics.API_RATE_LIMITED.labels("/api/traces")._value.get() >= 1
    assert metrics.API_REQUESTS.labels("/api/traces", "429")._value.get() >= 1


def test_metrics_label_requests_by_route_pattern_never_the_raw_path(world):
    label = ("/api/traces/{traceId}", "404")
    before = metrics.API_REQUESTS.labels(*label)._value.get()
    world.get("/api/traces/" + "0" * 32, world.shop)
    world.get("/api/traces/" + "1" * 32, world.shop)
    assert metrics.API_REQUESTS.labels(*label)._value.get() == before + 2
    assert not [s for m in metrics.REGISTRY.collect() for s in m.samples if "0" * 32 in str(s.labels)]


def test_a_store_that_does_not_answer_is_a_503_with_retry_after(store_url):
    store = Store(store_url).open()
    migrate.migrate(store)
    with InProcessApi(store) as server:
        token = tokens.create(store, ["shop"])["token"]
        server.reload_tokens()
        store.close()
        status, body, headers = server.get("/api/analytics/5xx-responses", token)
    assert status == 503 and body["error"] == "The store is unavailable; try again shortly"
    assert headers["Retry-After"] == "5" and body["retryAfter"] == 5
    cleanup = Store(store_url).open()
    cleanup.command(f"DROP DATABASE IF EXISTS `{cleanup.database}`")
    cleanup.close()


def test_the_openapi_document_is_public_and_describes_every_route(world):
    status, doc, _ = world.get("/api/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    routes = {r.resource.canonical for r in world.api_app.router.routes() if r.resource.canonical.startswith("/api/")}
    assert set(doc["paths"]) == routes - {"/api/openapi.json"}
