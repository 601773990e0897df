"""OTLP/JSON and OTLP/protobuf of the same spans give the same rows."""
from __future__ import annotations

import os

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue

from collector import migrate
from collector.landing import FORMATS
from tests.otlp_factory import kv, make_request, to_json

COLUMNS = (
    "Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName, ResourceAttributes, "
    "ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage, Events.Timestamp, Events.Name, "
    "Events.Attributes, Links.TraceId, Links.SpanId, Links.TraceState, Links.Attributes, HttpMethod, HttpRoute, "
    "HttpTarget, HttpStatusCode, ClientIp, UserAgent"
)


@pytest.fixture
def store(fresh_store):
    migrate.migrate(fresh_store)
    return fresh_store


def rich_request():
    request = make_request(4, status=503, semconv="new")
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[0].parent_span_id = os.urandom(8)
    spans[0].trace_state = "vendor=1"
    spans[0].status.message = "upstream down"
    spans[0].attributes.extend([
        kv("flag", False), kv("zero", 0), kv("empty", ""), kv("ratio", 0.25), kv("big", 2**62), kv("n", -7),
    ])
    spans[0].attributes.add(key="bytes", value=AnyValue(bytes_value=b"\x00\xffab"))
    spans[0].attributes.add(key="list", value=AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="a"), AnyValue(int_value=2), AnyValue(bool_value=True)])))
    event = spans[1].events.add(time_unix_nano=spans[1].start_time_unix_nano + 10, name="exception")
    event.attributes.extend([kv("exception.type", "TimeoutError"), kv("attempt", 3)])
    link = spans[2].links.add(trace_id=os.urandom(16), span_id=os.urandom(8), trace_state="k=v")
    link.attributes.extend([kv("linked", True)])
    return request


def land(store, fmt: str, body: bytes, app_id: str) -> None:
    form = FORMATS[fmt]
    store.raw_insert(form.table, form.encode(body, app_id, 1), form.clickhouse_format, settings=form.settings(None))


def rows(store, app_id: str) -> list[tuple]:
    return store.rows(f"SELECT {COLUMNS} FROM otel_traces WHERE AppId = {{a:String}} ORDER BY SpanId", {"a": app_id})


def test_json_and_protobuf_give_identical_rows(store):
    request = rich_request()
    land(store, "protobuf", request.SerializeToString(), "pb")
    land(store, "json", to_json(request), "js")
    land(store, "json", to_json(request, indent=2), "pretty")
    from_pb = rows(store, "pb")
    assert len(from_pb) == 4
    assert from_pb == rows(store, "js") == rows(store, "pretty")
    attrs = dict(from_pb[[r[2] for r in from_pb].index(request.resource_spans[0].scope_spans[0].spans[0].span_id.hex())][11])
    assert attrs["flag"] == "false" and attrs["zero"] == "0" and attrs["empty"] == "" and attrs["big"] == str(2**62)
    assert attrs["list"] == '["a","2","true"]' and attrs["bytes"] == "AP9hYg=="


def test_json_records_concatenate_into_one_insert(store):
    first, second = make_request(2), make_request(3)
    form = FORMATS["json"]
    body = form.encode(to_json(first, indent=1), "a", 1) + form.encode(to_json(second), "b", 2)
    store.raw_insert(form.table, body, form.clickhouse_format, settings=form.settings(None))
    assert store.rows("SELECT AppId, count() FROM otel_traces GROUP BY AppId ORDER BY AppId") == [("a", 2), ("b", 3)]


def test_json_with_numbers_for_int64_and_unknown_fields_gives_the_same_rows(store):
    import json

    request = rich_request()
    doc = json.loads(to_json(request))
    doc["somethingNew"] = {"nested": [1, 2]}
    for rs in doc["resourceSpans"]:
        rs["schemaUrl"] = "https://opentelemetry.io/schemas/1.21.0"
        for ss in rs["scopeSpans"]:
            ss["scope"]["attributes"] = [{"key": "x", "value": {"stringValue": "y"}}]
            for span in ss["spans"]:
                span["startTimeUnixNano"] = int(span["startTimeUnixNano"])
                span["endTimeUnixNano"] = int(span["endTimeUnixNano"])
                span["flags"] = 257
                span["droppedAttributesCount"] = 3
                span["futureField"] = {"a": "b"}
                for attr in span.get("attributes", []):
                    if "intValue" in attr["value"]:
                        attr["value"]["intValue"] = int(attr["value"]["intValue"])
                    attr["value"]["futureValue"] = None
    land(store, "protobuf", request.SerializeToString(), "pb")
    land(store, "json", json.dumps(doc).encode(), "js")
    assert rows(store, "pb") == rows(store, "js")
