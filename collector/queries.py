"""The reads behind the API: SQL from ``queries/*.sql``, composed only from fixed parts.

User values travel as query parameters (``{name:Type}``), never inside the SQL
text. The only text ever added to a query is taken from the fixed tables below
(``TRACE_FILTERS``, ``IP_ORDERS``), chosen by name. Every query is scoped to the
caller's applications.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from collector.store import Store
from collector.timerange import NS, TimeRange

# Every API read gives up after this long instead of holding the store.
SETTINGS = {"max_execution_time": 20}
# How far before and after a page's entry spans their traces' other spans are counted.
COUNT_SLACK_NS = 60 * NS
QUERY_DIR = Path(__file__).resolve().parent.parent / "queries"

# filter name -> SQL fragment; its parameters have the filter's name or a suffix of it.
TRACE_FILTERS = {
    "status": "HttpStatusCode BETWEEN {status_lo:UInt16} AND {status_hi:UInt16}",
    "method": "HttpMethod = {method:String}",
    "route": "HttpRoute = {route:String}",
    "path": "startsWith(HttpTarget, {path:String})",
    "ip": "ClientIp = {ip:String}",
    "service": "ServiceName = {service:String}",
    "min_duration": "Duration >= {min_duration_ns:UInt64}",
    "error": "(StatusCode = 'STATUS_CODE_ERROR' OR HttpStatusCode >= 500)",
    "after": "(Timestamp, SpanId) < (fromUnixTimestamp64Nano({after_ns:Int64}), {after_span:String})",
}

IP_ORDERS = {
    ("requests", "desc"): "Requests DESC", ("requests", "asc"): "Requests ASC",
    ("errors", "desc"): "Errors DESC", ("errors", "asc"): "Errors ASC",
    ("lastSeen", "desc"): "LastSeenNs DESC", ("lastSeen", "asc"): "LastSeenNs ASC",
    ("firstSeen", "desc"): "FirstSeenNs DESC", ("firstSeen", "asc"): "FirstSeenNs ASC",
    ("ip", "desc"): "ClientIp DESC", ("ip", "asc"): "ClientIp ASC",
}


def load(name: str) -> str:
    return (QUERY_DIR / f"{name}.sql").read_text()


def compose_traces_list(filters: dict) -> tuple[str, dict]:
    """The traces list SQL with the named filters, and their parameters."""
    return _with_filters(load("traces_list"), filters)


def compose_traces_cutoff(filters: dict, apps: list[str]) -> tuple[str, dict]:
    """The cutoff SQL: one part per application, each with its own parameter."""
    part, params = _with_filters(load("traces_cutoff_part"), filters)
    parts = [part.replace("{app_N:String}", f"{{app_{i}:String}}") for i in range(len(apps))]
    params.update({f"app_{i}": app for i, app in enumerate(apps)})
    return load("traces_cutoff").replace("/*APP_PARTS*/", "\nUNION ALL\n".join(parts)), params


def _with_filters(sql: str, filters: dict) -> tuple[str, dict]:
    unknown = set(filters) - {"status_lo", "status_hi", "method", "route", "path", "ip", "service",
                              "min_duration_ns", "error", "after_ns", "after_span"}
    if unknown:
        raise ValueError(f"unknown trace filters {sorted(unknown)}")
    names = sorted({_filter_of(key) for key in filters if key != "error" or filters[key]})
    fragments = "".join(f"\n    AND {TRACE_FILTERS[n]}" for n in names)
    params = {k: v for k, v in filters.items() if k != "error"}
    return sql.replace("/*FILTERS*/", fragments), params


def _filter_of(key: str) -> str:
    for name in TRACE_FILTERS:
        if key == name or key.startswith(name + "_"):
            return name
    raise ValueError(key)


@dataclass(frozen=True)
class Page:
    rows: list[dict]
    last_key: tuple[int, str] | None  # (StartNs, SpanId) of the last row, when more may follow


class Queries:
    """Async reads for the API handlers."""

    def __init__(self, store: Store):
        self.store = store
        self._sql = {name: load(name) for name in (
            "trace_span_counts", "trace_spans", "trace_span_total",
            "responses_buckets", "responses_routes", "server_errors", "client_ip_routes",
        )}

    async def traces(self, apps: list[str], rng: TimeRange, filters: dict, limit: int) -> Page:
        window = {"from_ns": rng.start_ns, "to_ns": rng.end_ns, "limit": limit + 1}
        sql, params = compose_traces_cutoff(filters, apps)
        cutoff = await self.store.arows(sql, dict(params, **window, last=limit), settings=SETTINGS)
        sql, params = compose_traces_list(filters)
        params.update(window, apps=apps, cutoff_s=cutoff[0][0] if cutoff else rng.start_ns // NS)
        rows = await self.store.adicts(sql, params, settings=SETTINGS)
        more = len(rows) > limit
        rows = rows[:limit]
        counts = await self._span_counts(apps, rows)
        for row in rows:
            row["SpanCount"] = counts.get(row["TraceId"], 1)
        last = (rows[-1]["StartNs"], rows[-1]["SpanId"]) if more else None
        return Page(rows, last)

    async def _span_counts(self, apps: list[str], rows: list[dict]) -> dict[str, int]:
        if not rows:
            return {}
        params = {
            "apps": apps, "ids": sorted({r["TraceId"] for r in rows}),
            "lo_ns": min(r["StartNs"] for r in rows) - COUNT_SLACK_NS,
            "hi_ns": max(r["StartNs"] + r["Duration"] for r in rows) + COUNT_SLACK_NS,
        }
        return dict(await self.store.arows(self._sql["trace_span_counts"], params, settings=SETTINGS))

    async def trace(self, apps: list[str], trace_id: str, cap: int) -> tuple[list[dict], int] | None:
        """The first ``cap`` spans of a trace and its span total; None when not found."""
        params = {"apps": apps, "trace_id": trace_id}
        spans = await self.store.adicts(self._sql["trace_spans"], dict(params, cap=cap), settings=SETTINGS)
        if not spans:
            return None
        total = len(spans)
        if total >= cap:
            total = (await self.store.arows(self._sql["trace_span_total"], params, settings=SETTINGS))[0][0]
        return spans, total

    async def responses(self, apps: list[str], rng: TimeRange, step_s: int, status: tuple[int, int], top: int):
        params = {
            "apps": apps, "from_s": rng.start_ns // NS, "to_s": rng.end_ns // NS, "step_s": step_s,
            "status_lo": status[0], "status_hi": status[1], "top": top,
        }
        buckets = await self.store.arows(self._sql["responses_buckets"], params, settings=SETTINGS)
        routes = await self.store.arows(self._sql["responses_routes"], params, settings=SETTINGS)
        return buckets, routes

    async def server_errors(self, apps: list[str], rng: TimeRange, limit: int) -> list[dict]:
        params = {"apps": apps, "from_s": rng.start_ns // NS, "to_s": rng.end_ns // NS, "limit": limit}
        return await self.store.adicts(self._sql["server_errors"], params, settings=SETTINGS)

    async def client_ips(self, app: str, rng: TimeRange, sort: str, order: str, limit: int, offset: int) -> list[dict]:
        sql = load("client_ips").replace("/*ORDER*/", IP_ORDERS[(sort, order)])
        params = {"app": app, "from_s": rng.start_ns // NS, "to_s": rng.end_ns // NS, "limit": limit, "offset": offset}
        rows = await self.store.adicts(sql, params, settings=SETTINGS)
        params["ips"] = [r["ClientIp"] for r in rows]
        routes = dict(await self.store.arows(self._sql["client_ip_routes"], params, settings=SETTINGS)) if rows else {}
        for row in rows:
            row["TopRoutes"] = routes.get(row["ClientIp"], [])
        return rows
