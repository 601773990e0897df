"""The API's handlers: parameters in, one query module call, JSON out."""
from __future__ import annotations

from aiohttp import web

from collector.apiparams import (
    GRANT, HttpError, Params, decode_cursor, duration_ms, encode_cursor, fingerprint, json_response,
    requested_apps, trace_id,
)
from collector.config import Config
from collector.queries import IP_ORDERS, Queries
from collector.store import Store
from collector.timerange import NS, TimeRange, choose_interval, iso, parse_range
from collector.tracetree import span_json, tree_order

DAY = 86400
STATUS_CLASSES = {"2xx": (200, 299), "3xx": (300, 399), "4xx": (400, 499), "5xx": (500, 599)}


class Handlers:
    def __init__(self, config: Config, store: Store):
        self.config = config
        self.queries = Queries(store)
        self.max_range_s = config.api_max_range_days * DAY

    def routes(self) -> list[web.RouteDef]:
        analytics = [web.get(f"/api/analytics/{c}-responses", self._responses_handler(c)) for c in STATUS_CLASSES]
        return [
            web.get("/api/traces", self.traces),
            web.get("/api/traces/{traceId}", self.trace),
            *analytics,
            web.get("/api/analytics/500-errors", self.server_errors),
            web.get("/api/applications/{id}/ips", self.client_ips),
        ]

    def _range(self, params: Params) -> TimeRange:
        return parse_range(params.text("from", 64), params.text("to", 64), DAY, self.max_range_s)

    async def traces(self, request: web.Request) -> web.Response:
        params = Params(request.query)
        apps = requested_apps(request, params)
        limit = params.integer("limit", 50, 1, 1000)
        filters = trace_filters(params)
        made_for = fingerprint(filters, apps)
        cursor = params.text("cursor", 512)
        if cursor:
            after_ns, after_span, from_ns, to_ns = decode_cursor(cursor, made_for)
            window = TimeRange(from_ns, to_ns)
            rng = TimeRange(from_ns, min(to_ns, after_ns + 1))
            filters.update(after_ns=after_ns, after_span=after_span)
        else:
            window = rng = self._range(params)
        page = await self.queries.traces(apps, rng, filters, limit)
        next_cursor = None
        if page.last_key:
            next_cursor = encode_cursor(*page.last_key, window.start_ns, window.end_ns, made_for)
        return json_response({
            "traces": [trace_row(r) for r in page.rows], "nextCursor": next_cursor,
            "from": iso(window.start_ns), "to": iso(window.end_ns),
        })

    async def trace(self, request: web.Request) -> web.Response:
        tid = trace_id(request.match_info["traceId"])
        apps = sorted(request[GRANT].apps)
        cap = self.config.api_trace_max_spans
        found = await self.queries.trace(apps, tid, cap)
        if found is None:
            raise HttpError(404, "Trace not found")
        spans, total = found
        ordered = [span_json(s, depth) for s, depth in tree_order(spans)]
        body = {"traceId": tid, "spanCount": total, "returned": len(ordered), "truncated": total > len(spans),
                "spans": ordered}
        if body["truncated"]:
            body["message"] = f"The trace has {total} spans; only the earliest {len(spans)} are returned"
        return json_response(body)

    def _responses_handler(self, status_class: str):
        async def handler(request: web.Request) -> web.Response:
            return await self.responses(request, status_class)
        return handler

    async def responses(self, request: web.Request, status_class: str) -> web.Response:
        params = Params(request.query)
        apps = requested_apps(request, params)
        rng = self._range(params)
        step = choose_interval(rng, params.text("interval", 16), self.config.api_max_buckets)
        rng = rng.aligned(step)
        top = params.integer("top", 20, 1, 1000)
        rows, routes = await self.queries.responses(apps, rng, step, STATUS_CLASSES[status_class], top)
        return json_response(responses_body(status_class, rng, step, rows, routes))

    async def server_errors(self, request: web.Request) -> web.Response:
        params = Params(request.query)
        apps = requested_apps(request, params)
        rng = self._range(params).aligned(60)
        limit = params.integer("limit", 100, 1, 1000)
        rows = await self.queries.server_errors(apps, rng, limit)
        return json_response({
            "from": iso(rng.start_ns), "to": iso(rng.end_ns),
            "total": rows[0]["TotalCount"] if rows else 0, "groups": rows[0]["Groups"] if rows else 0,
            "errors": [error_row(r) for r in rows],
        })

    async def client_ips(self, request: web.Request) -> web.Response:
        app = request.match_info["id"]
        if app not in request[GRANT].apps:
            raise HttpError(404, f"Application {app[:128]!r} not found")
        params = Params(request.query)
        rng = self._range(params).aligned(3600)  # the IP rollups are hourly
        sort = params.choice("sort", "requests", tuple(dict.fromkeys(s for s, _ in IP_ORDERS)))
        order = params.choice("order", "asc" if sort == "ip" else "desc", ("asc", "desc"))
        limit = params.integer("limit", 100, 1, 1000)
        offset = params.integer("offset", 0, 0, 1_000_000)
        rows = await self.queries.client_ips(app, rng, sort, order, limit, offset)
        total = rows[0]["Total"] if rows else 0
        return json_response({
            "appId": app, "from": iso(rng.start_ns), "to": iso(rng.end_ns), "total": total,
            "ips": [ip_row(r) for r in rows],
            "nextOffset": offset + len(rows) if offset + len(rows) < total else None,
        })


def trace_filters(params: Params) -> dict:
    """The whitelisted filters of the traces list, named as queries.TRACE_FILTERS wants."""
    filters: dict = {}
    status = params.status()
    if status:
        filters["status_lo"], filters["status_hi"] = status
    for name in ("route", "service"):
        if (value := params.text(name)) is not None:
            filters[name] = value
    path = params.text("path", 2048)
    if path is not None:
        filters["path"] = path
    if (method := params.method()) is not None:
        filters["method"] = method
    if (ip := params.ip()) is not None:
        filters["ip"] = ip
    if (min_ns := params.min_duration_ns()) is not None:
        filters["min_duration_ns"] = min_ns
    if params.boolean("error"):
        filters["error"] = True
    return filters


def trace_row(r: dict) -> dict:
    return {
        "traceId": r["TraceId"], "spanId": r["SpanId"], "appId": r["AppId"], "service": r["ServiceName"],
        "name": r["SpanName"], "start": iso(r["StartNs"]), "durationMs": duration_ms(r["Duration"]),
        "method": r["HttpMethod"], "route": r["HttpRoute"], "path": r["HttpTarget"],
        "status": r["HttpStatusCode"] or None, "error": r["StatusCode"] == "STATUS_CODE_ERROR" or r["HttpStatusCode"] >= 500,
        "clientIp": r["ClientIp"], "userAgent": r["UserAgent"], "spanCount": r["SpanCount"],
    }


def responses_body(status_class: str, rng: TimeRange, step: int, rows: list, routes: list) -> dict:
    buckets = {start: {} for start in range(rng.start_ns // NS, rng.end_ns // NS, step)}
    by_status: dict[int, int] = {}
    for start, status, count in rows:
        buckets[start][str(status)] = count
        by_status[status] = by_status.get(status, 0) + count
    return {
        "class": status_class, "from": iso(rng.start_ns), "to": iso(rng.end_ns), "intervalSeconds": step,
        "total": sum(by_status.values()),
        "buckets": [{"start": iso(s * NS), "count": sum(c.values()), "byStatus": c} for s, c in buckets.items()],
        "byStatus": [{"status": s, "count": c} for s, c in sorted(by_status.items())],
        "byRoute": [{"route": r, "method": m, "count": c} for r, m, c in routes],
    }


def error_row(r: dict) -> dict:
    return {
        "appId": r["AppId"], "route": r["HttpRoute"], "method": r["HttpMethod"], "status": r["HttpStatusCode"],
        "errorType": r["ErrorType"], "message": r["ErrorMessage"], "count": r["Count"],
        "firstSeen": iso(r["FirstSeenNs"]), "lastSeen": iso(r["LastSeenNs"]), "sampleTraceIds": list(r["SampleTraceIds"]),
    }


def ip_row(r: dict) -> dict:
    return {
        "ip": r["ClientIp"], "requests": r["Requests"], "errors": r["Errors"], "serverErrors": r["ServerErrors"],
        "firstSeen": iso(r["FirstSeenNs"]), "lastSeen": iso(r["LastSeenNs"]),
        "topRoutes": [{"route": route, "requests": n} for route, n in r["TopRoutes"]],
    }
