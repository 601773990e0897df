"""The OpenAPI 3 description of the query API, served at ``/api/openapi.json``."""
from __future__ import annotations

from functools import cache

TIME = "ISO 8601 time (UTC when no offset) or a relative time such as 15m, 24h, 7d (that long ago)"


def _q(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema or {"type": "string"}}


def _p(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema or {"type": "string"}}


RANGE = [_q("from", f"start of the range (default: 24h before to); {TIME}"), _q("to", f"end of the range (default: now); {TIME}")]
APP = _q("app", "comma-separated application ids (default: every application the token grants)")


def _errors(*codes: int) -> dict:
    texts = {400: "Bad request", 401: "Authentication required", 404: "Not found", 429: "Rate limited", 503: "Store unavailable"}
    return {str(c): {"description": texts[c], "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            for c in codes}


def _ok(description: str, schema: dict) -> dict:
    return {"200": {"description": description, "content": {"application/json": {"schema": schema}}}}


def _get(summary: str, parameters: list, ok: dict, *codes: int) -> dict:
    return {"get": {"summary": summary, "parameters": parameters, "responses": {**ok, **_errors(400, 401, 429, 503, *codes)}}}


def _obj(**props) -> dict:
    return {"type": "object", "properties": props, "required": list(props)}


TRACE_ROW = _obj(
    traceId={"type": "string"}, spanId={"type": "string"}, appId={"type": "string"}, service={"type": "string"},
    name={"type": "string"}, start={"type": "string", "format": "date-time"}, durationMs={"type": "number"},
    method={"type": "string"}, route={"type": "string"}, path={"type": "string"},
    status={"type": ["integer", "null"]}, error={"type": "boolean"}, clientIp={"type": "string"},
    userAgent={"type": "string"}, spanCount={"type": "integer"},
)
ANALYTICS = _obj(
    **{"class": {"type": "string"}}, **{"from": {"type": "string"}}, to={"type": "string"},
    intervalSeconds={"type": "integer"}, total={"type": "integer"},
    buckets={"type": "array", "items": _obj(start={"type": "string"}, count={"type": "integer"}, byStatus={"type": "object"})},
    byStatus={"type": "array", "items": _obj(status={"type": "integer"}, count={"type": "integer"})},
    byRoute={"type": "array", "items": _obj(route={"type": "string"}, method={"type": "string"}, count={"type": "integer"})},
)


STR, INT, NUM, OBJ = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "object"}
SPAN = _obj(
    spanId=STR, parentSpanId={"type": ["string", "null"]}, depth=INT, name=STR, kind=STR, service=STR, appId=STR,
    start=STR, startUnixNano=STR, durationMs=NUM, status=_obj(code=STR, message=STR), attributes=OBJ,
    resourceAttributes=OBJ, scope=_obj(name=STR, version=STR), traceState=STR,
    events={"type": "array", "items": _obj(time=STR, name=STR, attributes=OBJ)},
    links={"type": "array", "items": _obj(traceId=STR, spanId=STR, traceState=STR, attributes=OBJ)},
)
ERROR_ROW = _obj(
    appId=STR, route=STR, method=STR, status=INT, errorType=STR, message=STR, count=INT,
    firstSeen=STR, lastSeen=STR, sampleTraceIds={"type": "array", "items": STR},
)
IP_ROW = _obj(
    ip=STR, requests=INT, errors=INT, serverErrors=INT, firstSeen=STR, lastSeen=STR,
    topRoutes={"type": "array", "items": _obj(route=STR, requests=INT)},
)


def _responses_path(cls: str) -> dict:
    params = [APP, *RANGE, _q("interval", "bucket size, whole minutes (1m, 15m, 1h, 1d); default chosen from the range"),
              _q("top", "how many routes in byRoute (1-1000, default 20)", {"type": "integer", "minimum": 1, "maximum": 1000})]
    return _get(f"{cls} responses over time, by status code and by route", params, _ok("counts", ANALYTICS), 404)


@cache
def document() -> dict:
    paths = {
        "/api/traces": _get(
            "Requests (entry spans: SERVER spans and trace roots), newest first, with keyset pagination",
            [APP, *RANGE,
             _q("status", "status code (404) or class (5xx)"), _q("method", "HTTP method"), _q("route", "route pattern"),
             _q("path", "path prefix"), _q("ip", "client IP"), _q("service", "service name"),
             _q("minDuration", "minimum duration in milliseconds", {"type": "number", "minimum": 0}),
             _q("error", "only errors (status >= 500 or span status ERROR)", {"type": "boolean"}),
             _q("limit", "rows per page (1-1000, default 50)", {"type": "integer", "minimum": 1, "maximum": 1000}),
             _q("cursor", "nextCursor of the previous page (same filters)")],
            _ok("a page of traces", _obj(traces={"type": "array", "items": TRACE_ROW}, nextCursor={"type": ["string", "null"]},
                                         **{"from": {"type": "string"}}, to={"type": "string"})),
            404,
        ),
        "/api/traces/{traceId}": _get(
            "Every span of a trace as a tree (capped; truncated says so)",
            [_p("traceId", "32 hexadecimal characters", {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"})],
            _ok("the trace", _obj(traceId={"type": "string"}, spanCount={"type": "integer"}, returned={"type": "integer"},
                                  truncated={"type": "boolean"}, spans={"type": "array", "items": SPAN})),
            404,
        ),
        **{f"/api/analytics/{c}-responses": _responses_path(c) for c in ("2xx", "3xx", "4xx", "5xx")},
        "/api/analytics/500-errors": _get(
            "Server errors grouped by application, route, method, status and error, with samples",
            [APP, *RANGE, _q("limit", "groups (1-1000, default 100)", {"type": "integer", "minimum": 1, "maximum": 1000})],
            _ok("error groups", _obj(**{"from": {"type": "string"}}, to={"type": "string"}, total={"type": "integer"},
                                     groups={"type": "integer"}, errors={"type": "array", "items": ERROR_ROW})),
            404,
        ),
        "/api/applications/{id}/ips": _get(
            "Client IPs of an application with request and error counts, first and last seen, top routes",
            [_p("id", "application id"), *RANGE,
             _q("sort", "sort key", {"type": "string", "enum": ["requests", "errors", "lastSeen", "firstSeen", "ip"]}),
             _q("order", "asc or desc", {"type": "string", "enum": ["asc", "desc"]}),
             _q("limit", "rows (1-1000, default 100)", {"type": "integer", "minimum": 1, "maximum": 1000}),
             _q("offset", "rows to skip", {"type": "integer", "minimum": 0, "maximum": 1000000})],
            _ok("client IPs", _obj(appId={"type": "string"}, total={"type": "integer"}, ips={"type": "array", "items": IP_ROW},
                                   nextOffset={"type": ["integer", "null"]}, **{"from": {"type": "string"}}, to={"type": "string"})),
            404,
        ),
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "snk-collector query API", "version": "1"},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "properties": {"error": {"type": "string"}, "retryAfter": {"type": "integer"}},
                                  "required": ["error"]}},
        },
    }
