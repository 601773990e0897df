"""Every ClickHouse query of the HTTP analytics dashboard runs on real spans and returns rows."""
from __future__ import annotations

import re
import time

from collector import landing, migrate
from tests import promql
from tests.otlp_factory import make_request

APP = "shop"


def grafana_fill(sql: str, trace_id: str) -> str:
    """The Grafana ClickHouse plugin's macros and this dashboard's variables, as the plugin expands them."""
    sql = re.sub(r"\$__timeFilter\((\w+)\)", r"(\1 >= toDateTime(now() - 3600) AND \1 <= now() + 60)", sql)
    sql = re.sub(r"\$__timeInterval\((\w+)\)", r"toStartOfInterval(toDateTime(\1), INTERVAL 60 second)", sql)
    sql = sql.replace("${app}", APP).replace("${trace_id}", trace_id)
    assert "$" not in sql, sql
    return sql


def test_every_http_analytics_query_returns_rows(fresh_store):
    migrate.migrate(fresh_store)
    requests = [
        make_request(20, status=200, route="/api/users/:id"),
        make_request(5, status=503, method="POST", route="/orders", ip="198.51.100.4", agent="curl/8"),
        make_request(5, status=404, semconv="new", start_ns=time.time_ns() - 600 * 10**9),
    ]
    body = b"".join(landing.encode_record(r.SerializeToString(), APP, time.time_ns()) for r in requests)
    fresh_store.raw_insert(landing.LANDING_TABLE, body, "Protobuf", landing.insert_settings())
    trace_id = fresh_store.rows("SELECT TraceId FROM otel_traces ORDER BY Duration DESC LIMIT 1")[0][0]
    queries = promql.dashboard_sql()
    assert len(queries) >= 8
    for dashboard, title, sql in queries:
        rows = fresh_store.rows(grafana_fill(sql, trace_id))
        assert rows, f"{dashboard} / {title} returned nothing"
    variable = promql.load_dashboards()["http-analytics.json"]["templating"]["list"][0]["query"]
    assert fresh_store.rows(variable) == [(APP,)]
