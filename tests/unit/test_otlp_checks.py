"""The receivers' cheap checks: partial success, whole refusals, truncation."""
from __future__ import annotations

import json

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.otlp_checks import Invalid, Limits, TooMany, check_json, check_protobuf
from tests.otlp_factory import kv, make_request, span_ids, to_json

LIMITS = Limits(max_spans=100, max_value_length=64)


def spans_of(request):
    return request.resource_spans[0].scope_spans[0].spans


def test_valid_protobuf_passes_through_untouched():
    body = make_request(10).SerializeToString()
    checked = check_protobuf(body, LIMITS)
    assert (checked.body is body, checked.spans, checked.rejected, checked.message) == (True, 10, 0, "")


@pytest.mark.parametrize("breakage", ["short_trace", "zero_span", "long_parent", "end_before_start"])
def test_invalid_spans_are_dropped_and_counted(breakage):
    request = make_request(5)
    bad = spans_of(request)[2]
    if breakage == "short_trace":
        bad.trace_id = b"\x01" * 8
    elif breakage == "zero_span":
        bad.span_id = bytes(8)
    elif breakage == "long_parent":
        bad.parent_span_id = b"\x01" * 9
    else:
        bad.end_time_unix_nano = bad.start_time_unix_nano - 1
    bad_id = bad.span_id.hex()
    checked = check_protobuf(request.SerializeToString(), LIMITS)
    assert (checked.spans, checked.rejected) == (4, 1)
    assert checked.message.startswith("1 span(s) rejected: ")
    kept = ExportTraceServiceRequest.FromString(checked.body)
    assert span_ids(kept) == span_ids(request) - {bad_id}


def test_truncated_protobuf_is_invalid():
    body = make_request(3).SerializeToString()
    with pytest.raises(Invalid):
        check_protobuf(body[:-7], LIMITS)
    with pytest.raises(Invalid):
        check_protobuf(b"\xff\xff\xff\xff", LIMITS)


def test_too_many_spans_refuses_the_request():
    with pytest.raises(TooMany, match="101 spans"):
        check_protobuf(make_request(101).SerializeToString(), LIMITS)
    with pytest.raises(TooMany):
        check_json(to_json(make_request(101)), LIMITS)


def test_long_string_values_are_truncated_not_rejected():
    request = make_request(3)
    spans_of(request)[1].attributes.extend([kv("long", "x" * 500), kv("short", "ok"), kv("count", 7)])
    request.resource_spans[0].resource.attributes.extend([kv("huge", "y" * 300)])
    checked = check_protobuf(request.SerializeToString(), LIMITS)
    assert (checked.spans, checked.rejected) == (3, 0)
    out = ExportTraceServiceRequest.FromString(checked.body)
    attrs = {a.key: a.value for a in spans_of(out)[1].attributes}
    assert attrs["long"].string_value == "x" * 64 and attrs["short"].string_value == "ok" and attrs["count"].int_value == 7
    resource = {a.key: a.value.string_value for a in out.resource_spans[0].resource.attributes}
    assert resource["huge"] == "y" * 64

    as_json = json.loads(check_json(to_json(request), LIMITS).body)
    values = {a["key"]: a["value"] for a in as_json["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["attributes"]}
    assert values["long"] == {"stringValue": "x" * 64}


def test_json_partial_success_and_reserved_keys():
    doc = json.loads(to_json(make_request(4)))
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans[0]["traceId"] = "zz" * 16
    spans[1]["spanId"] = "0" * 16
    spans[2]["kind"] = "SPAN_KIND_CLIENT"
    doc["appId"] = "someone-else"
    checked = check_json(json.dumps(doc, indent=2).encode(), LIMITS)
    assert (checked.spans, checked.rejected) == (2, 2)
    out = json.loads(checked.body)
    assert "appId" not in out and out["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["kind"] == 3


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'{"resourceSpans": 5}', b'{"resourceSpans": [{"scopeSpans": [{"spans": [7]}]}]}'])
def test_malformed_json_is_invalid(body):
    with pytest.raises(Invalid):
        check_json(body, LIMITS)


def test_json_values_the_store_could_not_read_are_invalid():
    doc = json.loads(to_json(make_request(2)))
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["attributes"][0]["value"] = {"intValue": "12abc"}
    with pytest.raises(Invalid):
        check_json(json.dumps(doc).encode(), LIMITS)


@pytest.mark.parametrize("limit", [10, 126, 127, 128, 16383, 16384, 20000])
def test_long_value_scan_misses_no_value_over_the_limit(limit):
    for length, cut in ((limit, False), (limit + 1, True), (limit * 3, True)):
        request = make_request(2)
        spans_of(request)[0].attributes.extend([kv("v", "z" * length)])
        checked = check_protobuf(request.SerializeToString(), Limits(100, limit))
        value = {a.key: a.value.string_value for a in spans_of(ExportTraceServiceRequest.FromString(checked.body))[0].attributes}["v"]
        assert len(value) == (limit if cut else length)


@pytest.mark.parametrize(("where", "key", "value"), [
    ("span", "attributes", {}), ("span", "events", {}), ("span", "links", ""), ("span", "status", []),
    ("rs", "resource", []), ("rs", "resource", ""), ("rs", "scopeSpans", {}), ("ss", "scope", "x"), ("ss", "spans", {}),
    ("kv", "value", ""), ("kv", "value", {"arrayValue": {"values": {}}}), ("span", "startTimeUnixNano", "١٧٩٦"),
])
def test_json_of_types_the_store_could_not_read_is_invalid(where, key, value):
    """Each of these failed a ClickHouse insert (tests/integration/test_landing_json.py)."""
    doc = json.loads(to_json(make_request(2)))
    rs = doc["resourceSpans"][0]
    span = rs["scopeSpans"][0]["spans"][0]
    {"rs": rs, "ss": rs["scopeSpans"][0], "span": span, "kv": span["attributes"][0]}[where][key] = value
    with pytest.raises(Invalid):
        check_json(json.dumps(doc).encode(), LIMITS)
