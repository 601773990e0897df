"""The OTLP/JSON fast path: it takes clean bodies, and it never answers differently
from the full walk (``_walk_json``), the reference for what is accepted."""
from __future__ import annotations

import json

import pytest

from collector import otlp_checks
from collector.otlp_checks import Limits, _walk_json, check_json
from tests.otlp_factory import make_request, to_json

LIMITS = Limits(max_spans=100, max_value_length=64)
MISSING = object()  # delete the key instead of setting it


def base_doc() -> dict:
    """Three spans; the middle one has an event, a link and an array value."""
    doc = json.loads(to_json(make_request(3)))
    span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]
    span["parentSpanId"] = "0123456789abcdef"
    span["events"] = [{"timeUnixNano": span["startTimeUnixNano"], "name": "e", "attributes": [{"key": "k", "value": {"stringValue": "v"}}]}]
    span["links"] = [{"traceId": span["traceId"], "spanId": span["spanId"], "attributes": [{"key": "k", "value": {"boolValue": True}}]}]
    span["attributes"].append({"key": "list", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "5"}]}}})
    return doc


def place(doc: dict, where: str):
    rs = doc["resourceSpans"][0]
    span = rs["scopeSpans"][0]["spans"][1]
    return {
        "top": doc, "resource_spans": rs, "scope_spans": rs["scopeSpans"][0], "span": span,
        "value": span["attributes"][0]["value"], "kv": span["attributes"][0], "status": span["status"],
        "event": span["events"][0], "event_value": span["events"][0]["attributes"][0]["value"],
        "link_value": span["links"][0]["attributes"][0]["value"],
        "resource_value": rs["resource"]["attributes"][0]["value"],
        "array_item": span["attributes"][-1]["value"]["arrayValue"]["values"][1],
    }[where]


def body_with(where: str, key: str, value, escaped: bool = False) -> bytes:
    """``escaped`` adds a non-ASCII value, which json.dumps writes as a \\u escape."""
    doc = base_doc()
    if escaped:
        doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"].append({"key": "city", "value": {"stringValue": "Zürich"}})
    target = place(doc, where)
    if value is MISSING:
        target.pop(key, None)
    else:
        target[key] = value
    return json.dumps(doc).encode()


def outcome(check, body: bytes):
    try:
        c = check(body, LIMITS)
    except Exception as exc:  # noqa: BLE001 - the type and text are what is compared
        return type(exc).__name__, str(exc)
    return c.body, c.spans, c.rejected, c.message


START = json.loads(to_json(make_request(1)))["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["startTimeUnixNano"]
IDS = [
    "zz" * 16, "0" * 32, "AB" * 16, "a" * 31, "a" * 33, "a" * 31 + "\n", " " + "a" * 31, 5, None, MISSING, "",
    "٣" * 32, "0" * 15 + "1" + "0" * 16,
]
SPAN_IDS = ["zz" * 8, "0" * 16, "AB" * 8, "a" * 15, "a" * 17, "a" * 15 + "\n", 7, None, MISSING, "00000000000000001"[:16]]
PARENTS = ["", None, MISSING, 0, "0" * 16, "a" * 15, "g" * 16, "AB" * 8, "a" * 15 + " ", "a" * 32]
TIMES = [
    0, 1, "0", "", None, MISSING, "-1", "+1", " 1", "1_0", "٣", "1.5", 1.5, True, -1, 2**63 - 1, 2**63, 2**64 - 1, 2**64,
    str(2**63), str(2**64 - 1), str(2**64), "9" * 19, "9" * 20, "0" * 25 + "1", int(START) + 1, START, str(int(START) - 1),
]
INTS = [
    "12abc", "", "-0", "+1", " 1", "007", "9" * 18, "8" + "9" * 18, "-8" + "9" * 18, "9" + "0" * 18, str(2**62), str(2**63 - 1), str(2**63), str(-(2**63)), str(-(2**63) - 1),
    "9" * 20, 1.0, True, None, 2**63 - 1, 2**63, -(2**63), 2**70, "٣", "1\n",
]
VALUES = [
    None, MISSING, {}, [], "x", {"stringValue": None}, {"stringValue": 5}, {"stringValue": "x" * 64},
    {"stringValue": "x" * 65}, {"stringValue": "é" * 65}, {"boolValue": "true"}, {"boolValue": 1},
    {"doubleValue": "NaN"}, {"doubleValue": 1}, {"doubleValue": True}, {"doubleValue": None}, {"bytesValue": 5},
    {"bytesValue": "AAEC"}, {"arrayValue": None}, {"arrayValue": {}}, {"arrayValue": {"values": None}},
    {"arrayValue": {"values": {}}}, {"arrayValue": {"values": "ab"}}, {"arrayValue": {"values": [{"intValue": "x"}]}},
    {"arrayValue": {"values": [{"stringValue": "y" * 100}]}},
    {"arrayValue": {"values": [{"arrayValue": {"values": [{"boolValue": 1}]}}]}},
    {"arrayValue": {"values": [{"arrayValue": {"values": [{"boolValue": False}]}}]}},
    {"kvlistValue": {"values": [{"key": "a", "value": {"intValue": "nope"}}]}}, {"stringValue": "a", "intValue": "1"},
]
CASES = (
    [("span", "traceId", v) for v in IDS] + [("span", "spanId", v) for v in SPAN_IDS]
    + [("span", "parentSpanId", v) for v in PARENTS]
    + [("span", k, v) for k in ("startTimeUnixNano", "endTimeUnixNano") for v in TIMES]
    + [("event", "timeUnixNano", v) for v in TIMES]
    + [(w, "intValue", v) for w in ("value", "array_item") for v in INTS]
    + [("kv", "value", v) for v in VALUES] + [("event_value", "x", 0)]
    + [(w, k, None) for w in ("value", "array_item") for k in ("stringValue", "boolValue", "doubleValue", "bytesValue", "arrayValue")]
    + [(w, "stringValue", "z" * n) for w in ("event_value", "link_value", "resource_value") for n in (64, 65)]
    + [("span", "kind", v) for v in ("SPAN_KIND_CLIENT", "2", 2, 2**31, -(2**31), 2.0, True, None, MISSING)]
    + [("status", "code", v) for v in ("STATUS_CODE_ERROR", 1, 2**31, None, "1", MISSING)]
    + [("span", "status", v) for v in (None, {}, [], "x", MISSING)]
    + [("span", k, v) for k in ("attributes", "events", "links") for v in (None, [], {}, "ab", [7], MISSING)]
    + [("top", k, v) for k in ("appId", "receivedUnixNano") for v in ("x", None, 5)]
    + [("top", "resourceSpans", v) for v in (None, [], 5, [7], {}, MISSING)]
    + [("resource_spans", k, v) for k in ("resource", "scopeSpans") for v in (None, {}, [], "x", MISSING)]
    + [("scope_spans", "spans", v) for v in (None, [], [7], {}, MISSING)]
    + [("scope_spans", "scope", v) for v in (None, {}, {"name": 5}, [], "x", MISSING)]
    + [("kv", "value", v) for v in ("", 0, False)] + [("kv", "key", v) for v in (5, None, {"a": 1})]
)


@pytest.mark.parametrize("escaped", [False, True], ids=["plain", "escaped"])
@pytest.mark.parametrize(("where", "key", "value"), CASES, ids=[f"{w}.{k}={v!r:.24}" for w, k, v in CASES])
def test_check_json_answers_as_the_full_walk(where, key, value, escaped):
    body = body_with(where, key, value, escaped)
    assert outcome(check_json, body) == outcome(_walk_json, body)


@pytest.mark.parametrize("spelling", [
    b'"intValue":"12abc"', b'"intValue" :\n "12abc"', b'"int\\u0056alue": "12abc"', b'"intValue": 5, "intValue": "x"',
    b'"intValue": "12", "stringValue": "\\"intValue\\": \\"x\\""', b'"intValue": "1\\"2"',
])
def test_int_value_strings_cannot_hide_from_the_checks(spelling):
    body = to_json(make_request(2)).replace(b'"intValue": "200"', spelling, 1)
    assert spelling in body
    assert outcome(check_json, body) == outcome(_walk_json, body)


@pytest.mark.parametrize("body", [
    b"", b"{", b"[]", b"null", b'"x"', b"{} x", b'\xef\xbb\xbf{}', b'{"resourceSpans": NaN}', b'{"a": "\\ud800"}',
    b'{"a": "\xff"}', b"{}", b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 1e400}]}]}]}',
    b'{"resourceSpans": [{"resource": {"attributes": [{"value": ' + b'{"arrayValue": {"values": [' * 3000 + b"]}}" * 3000 + b"}]}}]}",
])
def test_malformed_bodies_answer_as_the_full_walk(body):
    assert outcome(check_json, body) == outcome(_walk_json, body)


def test_duplicate_keys_answer_as_the_full_walk():
    good = json.dumps(base_doc())
    trace_id = json.loads(good)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]
    for first, last in ((trace_id, "zz" * 16), ("zz" * 16, trace_id)):
        body = good.replace(f'"traceId": "{trace_id}"', f'"traceId": "{first}", "traceId": "{last}"', 1).encode()
        assert outcome(check_json, body) == outcome(_walk_json, body)


@pytest.fixture
def no_walk(monkeypatch):
    def walk(body, limits):
        raise AssertionError("the full walk ran on a clean body")
    monkeypatch.setattr(otlp_checks, "_walk_json", walk)


@pytest.mark.parametrize("indent", [None, 2])
def test_clean_bodies_go_on_unchanged_without_the_walk(no_walk, indent):
    body = to_json(make_request(20), indent=indent)
    checked = check_json(body, LIMITS)
    assert (checked.body is body, checked.spans, checked.rejected, checked.message) == (True, 20, 0, "")
    rich = json.dumps(base_doc()).encode()
    assert check_json(rich, LIMITS).spans == 3


def test_int64_as_numbers_and_unknown_fields_take_the_fast_path(no_walk):
    doc = base_doc()
    for span in doc["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        span["startTimeUnixNano"], span["endTimeUnixNano"] = int(span["startTimeUnixNano"]), int(span["endTimeUnixNano"])
        span["droppedAttributesCount"], span["flags"] = 0, 257
        span["attributes"][3]["value"] = {"intValue": 200}
    doc["resourceSpans"][0]["schemaUrl"] = "https://opentelemetry.io/schemas/1.21.0"
    assert check_json(json.dumps(doc).encode(), LIMITS).spans == 3


def test_too_many_spans_is_refused_by_the_fast_path(no_walk):
    with pytest.raises(otlp_checks.TooMany, match="101 spans"):
        check_json(to_json(make_request(101)), LIMITS)


def test_a_number_beyond_a_double_in_an_unread_field_is_the_one_difference(no_walk):
    """msgspec skips unread fields without parsing their numbers; orjson refuses the
    whole body. It is valid JSON, which ClickHouse reads as text or skips
    (tests/integration/test_landing_json.py::test_every_body_the_fast_check_passes_unchanged_lands)."""
    body = to_json(make_request(2)).replace(b'"kind": 2', b'"kind": 2, "flags": 1e400', 1)
    assert check_json(body, LIMITS).spans == 2
    with pytest.raises(otlp_checks.Invalid, match="infinity"):
        _walk_json(body, LIMITS)


@pytest.mark.parametrize("key", [b'"appId"', b'"app\\u0049d"', b'"receivedUnixNano"', b'"received\\u0055nixNano"'])
def test_reserved_keys_are_stripped_however_spelled(key):
    body = to_json(make_request(2)).replace(b"{", b"{" + key + b': "someone-else", ', 1)
    checked = check_json(body, LIMITS)
    assert outcome(check_json, body) == outcome(_walk_json, body)
    assert set(json.loads(checked.body)) == {"resourceSpans"} and checked.spans == 2
