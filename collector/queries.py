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
    unknown = set(filters) - {"status_lo", "status_hi", "method", "route", "path", "ip", "service",
                              "min_duration_ns", "error", "after_ns", "after_span"}
    if unknown:
        raise ValueError(f"unknown trace filters {sorted(unknown)}")
    names = sorted({_filter_of(key) for key in filters if key != "error" or filters[key]})
    fragments = "".join(f"\n    AND {TRACE_FILTERS[n]}" for n in names)
    params = {k: v for k, v in filters.items() if k != "error"}
    return load("traces_list").replace("/*FILTERS*/", fragments), params


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
            "trace_span_counts", "trace_bounds", "trace_spans", "trace_span_total",
            "responses_buckets", "responses_routes", "server_errors",
        )}

    async def traces(self, apps: list[str], rng: TimeRange, filters: dict, limit: int) -> Page:
        sql, params = compose_traces_list(filters)
        params.update(apps=apps, from_ns=rng.start_ns, to_ns=rng.end_ns, limit=limit + 1)
        rows = await self.store.adicts(sql, params)
        more = len(rows) > limit
        rows = rows[:limit]
        counts = await self._span_counts(apps, sorted({r["TraceId"] for r in rows}))
        for row in rows:
            row["SpanCount"] = counts.get(row["TraceId"], 1)
        last = (rows[-1]["StartNs"], rows[-1]["SpanId"]) if more else None
        return Page(rows, last)

    async def _span_counts(self, apps: list[str], ids: list[str]) -> dict[str, int]:
        if not ids:
            return {}
        rows = await self.store.arows(self._sql["trace_span_counts"], {"apps": apps, "ids": ids})
        return dict(rows)

    async def trace(self, apps: list[str], trace_id: str, cap: int) -> tuple[list[dict], int] | None:
        """The first ``cap`` spans of a trace and its span total; None when not found."""
        lo, hi, found = (await self.store.arows(self._sql["trace_bounds"], {"trace_id": trace_id}))[0]
        if not found:
            return None
        params = {"apps": apps, "trace_id": trace_id, "lo": lo, "hi": hi}
        total = (await self.store.arows(self._sql["trace_span_total"], params))[0][0]
        if not total:
            return None
        spans = await self.store.adicts(self._sql["trace_spans"], dict(params, cap=cap))
        return spans, total

    async def responses(self, apps: list[str], rng: TimeRange, step_s: int, status: tuple[int, int], top: int):
        params = {
            "apps": apps, "from_s": rng.start_ns // NS, "to_s": rng.end_ns // NS, "step_s": step_s,
            "status_lo": status[0], "status_hi": status[1], "top": top,
        }
        buckets = await self.store.arows(self._sql["responses_buckets"], params)
        routes = await self.store.arows(self._sql["responses_routes"], params)
        return buckets, routes

    async def server_errors(self, apps: list[str], rng: TimeRange, limit: int) -> list[dict]:
        params = {"apps": apps, "from_s": rng.start_ns // NS, "to_s": rng.end_ns // NS, "limit": limit}
        return await self.store.adicts(self._sql["server_errors"], params)

    async def client_ips(self, app: str, rng: TimeRange, sort: str, order: str, limit: int, offset: int) -> list[dict]:
        sql = load("client_ips").replace("/*ORDER*/", IP_ORDERS[(sort, order)])
        params = {"app": app, "from_s": rng.start_ns // NS, "to_s": rng.end_ns // NS, "limit": limit, "offset": offset}
        return await self.store.adicts(sql, params)
