"""The schema against a real engine: migrations, and spans landing in otel_traces."""
import shutil
import time

import pytest

from collector import landing, migrate
from collector.store import StoreRejected
from tests.otlp_factory import make_request, span_ids


def table_definitions(store) -> dict[str, str]:
    rows = store.rows(
        "SELECT name, create_table_query FROM system.tables WHERE database = currentDatabase() ORDER BY name"
    )
    return dict(rows)


def test_migrations_run_twice_without_change(fresh_store):
    first = migrate.migrate(fresh_store)
    assert [m.version for m in first] == [m.version for m in migrate.discover()]
    before = table_definitions(fresh_store)
    assert {"otel_traces", "otel_traces_trace_id_ts", "runtime_keys", "otlp_landing"} <= set(before)
    assert migrate.migrate(fresh_store) == []
    assert table_definitions(fresh_store) == before
    assert fresh_store.rows("SELECT count() FROM schema_migrations FINAL")[0][0] == len(first)


def test_a_migration_added_later_reaches_an_existing_database(fresh_store, tmp_path):
    shutil.copytree(migrate.SCHEMA_DIR, tmp_path / "schema")
    migrate.migrate(fresh_store, schema_dir=tmp_path / "schema")
    next_version = max(m.version for m in migrate.discover()) + 1
    (tmp_path / "schema" / f"{next_version:03d}_add_column.sql").write_text(
        "-- a later release adds a column\n"
        "ALTER TABLE otel_traces ${ON_CLUSTER} ADD COLUMN IF NOT EXISTS Extra String;\n"
    )
    applied = migrate.migrate(fresh_store, schema_dir=tmp_path / "schema")
    assert [m.version for m in applied] == [next_version]
    columns = {r[0] for r in fresh_store.rows("SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'otel_traces'")}
    assert "Extra" in columns


def test_retention_follows_the_setting(fresh_store):
    migrate.migrate(fresh_store, retention_days=30)
    migrate.migrate(fresh_store, retention_days=7)
    ddl = table_definitions(fresh_store)
    assert "toIntervalDay(7)" in ddl["otel_traces"] and "toIntervalDay(7)" in ddl["otel_traces_trace_id_ts"]


def insert_requests(store, requests, app_id="app-1", token=None):
    body = b"".join(landing.encode_record(r.SerializeToString(), app_id, time.time_ns()) for r in requests)
    store.raw_insert(landing.LANDING_TABLE, body, "Protobuf", landing.insert_settings(token))


@pytest.mark.parametrize("semconv", ["old", "new"])
def test_spans_land_with_app_id_and_http_columns(fresh_store, semconv):
    migrate.migrate(fresh_store)
    request = make_request(5, status=503, method="post", route="/orders/:id", ip="198.51.100.4", agent="curl/8", semconv=semconv)
    insert_requests(fresh_store, [request], app_id="shop")
    rows = fresh_store.dicts(
        "SELECT AppId, ServiceName, SpanId, SpanKind, StatusCode, HttpMethod, HttpRoute, HttpTarget, HttpStatusCode,"
        " ClientIp, UserAgent, Duration, ResourceAttributes FROM otel_traces"
    )
    assert {r["SpanId"] for r in rows} == span_ids(request)
    row = rows[0]
    assert (row["AppId"], row["ServiceName"], row["SpanKind"], row["StatusCode"]) == ("shop", "shop-api", "SPAN_KIND_SERVER", "STATUS_CODE_ERROR")
    assert (row["HttpMethod"], row["HttpRoute"], row["HttpStatusCode"]) == ("POST", "/orders/:id", 503)
    assert row["HttpTarget"].startswith("/api/users/")
    assert (row["ClientIp"], row["UserAgent"], row["Duration"]) == ("198.51.100.4", "curl/8", 1_500_000)
    assert row["ResourceAttributes"]["host.name"] == "web-1"


def test_attribute_types_are_told_apart(fresh_store):
    migrate.migrate(fresh_store)
    request = make_request(1)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    from tests.otlp_factory import kv
    span.attributes.extend([kv("zero", 0), kv("no", False), kv("empty", ""), kv("ratio", 0.5)])
    span.attributes.add(key="list").value.array_value.values.add(string_value="a")
    span.attributes[-1].value.array_value.values.add(int_value=2)
    insert_requests(fresh_store, [request])
    attrs = fresh_store.rows("SELECT SpanAttributes FROM otel_traces")[0][0]
    assert (attrs["zero"], attrs["no"], attrs["empty"], attrs["ratio"]) == ("0", "false", "", "0.5")
    assert attrs["list"] == '["a","2"]'


def test_trace_id_lookup_table_is_filled(fresh_store):
    migrate.migrate(fresh_store)
    request = make_request(3)
    insert_requests(fresh_store, [request])
    ids = {s.trace_id.hex() for s in request.resource_spans[0].scope_spans[0].spans}
    assert {r[0] for r in fresh_store.rows("SELECT TraceId FROM otel_traces_trace_id_ts")} == ids


def test_same_token_is_stored_once(fresh_store):
    migrate.migrate(fresh_store)
    requests = [make_request(50), make_request(50)]
    for _ in range(3):
        insert_requests(fresh_store, requests, token="segment-1")
    assert fresh_store.rows("SELECT count() FROM otel_traces")[0][0] == 100
    insert_requests(fresh_store, requests, token="segment-2")
    assert fresh_store.rows("SELECT count() FROM otel_traces")[0][0] == 200


def test_garbage_is_a_permanent_error(fresh_store):
    migrate.migrate(fresh_store)
    with pytest.raises(StoreRejected):
        fresh_store.raw_insert(landing.LANDING_TABLE, b"\x05\xff\xff\xff\xff\xff", "Protobuf", landing.insert_settings())


def test_inserts_leave_nothing_in_the_current_directory(fresh_store, tmp_path, monkeypatch):
    migrate.migrate(fresh_store)
    monkeypatch.chdir(tmp_path)
    insert_requests(fresh_store, [make_request(2)])
    assert fresh_store.rows("SELECT count() FROM otel_traces")[0][0] == 2
    assert list(tmp_path.iterdir()) == []
