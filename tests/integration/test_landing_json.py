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


def edge_bodies() -> dict[str, bytes]:
    """Bodies at the edges of what the OTLP/JSON fast check passes on unchanged."""
    import json

    def doc_with(change) -> bytes:
        doc = json.loads(to_json(rich_request()))
        spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
        change(doc, spans)
        return json.dumps(doc).encode().replace(b'"1e400"', b"1e400")  # json.dumps writes inf as Infinity

    def ints(doc, spans):
        spans[0]["attributes"] += [{"key": k, "value": {"intValue": v}} for k, v in
                                   (("a", 2**63 - 1), ("b", -(2**63)), ("c", "-999999999999999999"), ("d", "-0"))]
        spans[0]["attributes"] += [{"key": "e", "value": {"doubleValue": 3}}, {"key": "f", "value": {"arrayValue": {"values": None}}}]
        spans[1]["events"][0]["timeUnixNano"] = 0
        spans[2]["startTimeUnixNano"], spans[2]["endTimeUnixNano"] = int(spans[2]["startTimeUnixNano"]), 2**63 - 1

    def ids_and_enums(doc, spans):
        for span in spans:
            span["traceId"], span["spanId"] = span["traceId"].upper(), span["spanId"].upper()
        spans[0]["parentSpanId"] = spans[0]["parentSpanId"].upper()
        spans[1]["kind"], spans[1]["status"] = 2**31 - 1, {"code": -(2**31)}
        spans[2]["status"], spans[2]["attributes"][0]["value"] = None, None
        doc["resourceSpans"][0]["resource"] = None

    def text_fields(doc, spans):
        spans[0]["name"], spans[0]["attributes"][0]["key"] = 5, 6
        spans[1]["name"], spans[1]["futureField"] = "1e400", "1e400"  # beyond a double: read as text or skipped
        spans[2]["attributes"][0]["value"] = {"stringValue": "é" * 64}
        doc["resourceSpans"].append({"scopeSpans": None})

    return {f.__name__: doc_with(f) for f in (ints, ids_and_enums, text_fields)}


def test_every_body_the_fast_check_passes_unchanged_lands(store):
    from collector.otlp_checks import Limits, check_json

    for name, body in edge_bodies().items():
        checked = check_json(body, Limits(max_value_length=64))
        assert checked.body is body and checked.spans == 4, name
        land(store, "json", body, name)
    assert store.rows("SELECT AppId, count() FROM otel_traces GROUP BY AppId ORDER BY AppId") == [
        ("ids_and_enums", 4), ("ints", 4), ("text_fields", 4)]


def odd_bodies() -> dict[str, bytes]:
    """Wrong JSON types in places the store reads; some it reads anyway."""
    import json

    def setter(*path):
        def change(doc, value):
            span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
            target = {"doc": doc, "rs": doc["resourceSpans"][0], "ss": doc["resourceSpans"][0]["scopeSpans"][0],
                      "span": span, "kv": span["attributes"][0]}[path[0]]
            target[path[1]] = value
        return change

    cases = {
        "attributes {}": (setter("span", "attributes"), {}), "events {}": (setter("span", "events"), {}),
        "links ''": (setter("span", "links"), ""), "status []": (setter("span", "status"), []),
        "resource []": (setter("rs", "resource"), []), "scope 'x'": (setter("ss", "scope"), "x"),
        "scopeSpans {}": (setter("rs", "scopeSpans"), {}), "spans {}": (setter("ss", "spans"), {}),
        "value ''": (setter("kv", "value"), ""), "values {}": (setter("kv", "value"), {"arrayValue": {"values": {}}}),
        "start in other digits": (setter("span", "startTimeUnixNano"), "١٧٩٦٣٠٧١٠٢٠٧٠٤٢٢١٩٣"),
        "parent 0": (setter("span", "parentSpanId"), 0), "key {}": (setter("kv", "key"), {"a": 1}),
        "name [1]": (setter("span", "name"), [1]), "traceState 5": (setter("span", "traceState"), 5),
        "status message {}": (setter("span", "status"), {"message": {"x": 1}}),
        "double 2**70": (setter("kv", "value"), {"doubleValue": 2**70}),
    }
    out = {}
    for name, (change, value) in cases.items():
        doc = json.loads(to_json(make_request(2)))
        change(doc, value)
        out[name] = json.dumps(doc).encode()
    return out


def test_json_checks_refuse_what_would_fail_the_insert_and_pass_what_lands(store):
    """A refused body would have failed the insert of a whole log segment."""
    from collector.otlp_checks import Invalid, Limits, check_json

    verdicts = {}
    for name, body in odd_bodies().items():
        try:
            body = check_json(body, Limits()).body
            refused = False
        except Invalid:
            refused = True
        try:
            land(store, "json", body, name)
            landed = store.rows("SELECT count() FROM otel_traces WHERE AppId = {a:String}", {"a": name}) == [(2,)]
        except Exception:  # noqa: BLE001 - any failure of the insert
            landed = False
        verdicts[name] = (refused, landed)
    assert {name: v for name, v in verdicts.items() if v not in ((True, False), (False, True))} == {}
