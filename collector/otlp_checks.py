"""The cheap checks a request passes before it is handed to the sink.

A body that cannot be decoded is refused whole (``Invalid``); one with more
spans than allowed is refused whole (``TooMany``). Spans that break the OTLP
rules (ids of the wrong length or all zero, an end before the start) are
dropped and counted, and the request goes on with the others (partial
success). String attribute values over the limit are truncated.

The checks look at a handful of fields per span and never walk the attributes
of a span whose encoded size is under the attribute limit: the spans
themselves are decoded by ClickHouse. An OTLP/JSON body is first checked
against typed structs in C (``otlp_json``); only one that would need a change
or a refusal is walked in Python.
"""
from __future__ import annotations

import functools
import operator
import re
from dataclasses import dataclass

import msgspec
import orjson
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector import otlp_json

_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)


class Invalid(Exception):
    """The body is not an OTLP trace request."""


class TooMany(Exception):
    """More spans than ``max_spans_per_request``."""


@dataclass(frozen=True)
class Limits:
    max_spans: int = 50_000
    max_value_length: int = 16384


@dataclass
class Checked:
    body: bytes  # what goes to the sink: the valid spans only
    spans: int  # valid spans
    rejected: int = 0
    message: str = ""


def check_protobuf(body: bytes, limits: Limits) -> Checked:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, RuntimeWarning, ValueError) as exc:
        raise Invalid(f"the body is not a protobuf ExportTraceServiceRequest ({exc})") from None
    total = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    if total > limits.max_spans:
        raise TooMany(f"{total} spans in one request; at most {limits.max_spans} are accepted")
    rejected, reason = 0, ""
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            bad = [i for i, s in enumerate(ss.spans) if _bad_span(s)]
            if bad:
                reason = reason or _reason(ss.spans[bad[0]])
                for i in reversed(bad):
                    del ss.spans[i]
                rejected += len(bad)
    truncated = _may_hold_long_value(body, limits.max_value_length) and _truncate_protobuf(request, limits.max_value_length)
    if rejected or truncated:
        body = request.SerializeToString()
    return Checked(body, total - rejected, rejected, _message(rejected, reason))


def _bad_span(s) -> bool:
    trace_id, span_id, parent = s.trace_id, s.span_id, s.parent_span_id
    return (
        len(trace_id) != 16 or len(span_id) != 8 or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN
        or (parent and len(parent) != 8) or s.end_time_unix_nano < s.start_time_unix_nano
    )


def _reason(s) -> str:
    if len(s.trace_id) != 16 or s.trace_id == _ZERO_TRACE:
        return "trace_id must be 16 bytes, not all zero"
    if len(s.span_id) != 8 or s.span_id == _ZERO_SPAN:
        return "span_id must be 8 bytes, not all zero"
    if s.parent_span_id and len(s.parent_span_id) != 8:
        return "parent_span_id must be empty or 8 bytes"
    return "end_time_unix_nano is before start_time_unix_nano"


def _message(rejected: int, reason: str) -> str:
    return f"{rejected} span(s) rejected: {reason}" if rejected else ""


@functools.lru_cache(maxsize=8)
def _long_value_pattern(limit: int) -> re.Pattern:
    """Bytes that must occur where a KeyValue holds a string longer than ``limit``:
    the value field (tag 0x12) and the AnyValue's string_value (tag 0x0a), each
    with a length varint at least as long as the one of ``limit + 1``."""
    width = max(1, ((limit + 1).bit_length() + 6) // 7)  # bytes of its varint
    length = rb"[\x80-\xff]{%d,}[\x00-\x7f]" % (width - 1)
    return re.compile(rb"\x12" + length + rb"\x0a" + length)


def _may_hold_long_value(body: bytes, limit: int) -> bool:
    """A C-speed scan of the raw bytes, so the attributes are walked only when a
    long value may be there (rare false positives just cost the walk)."""
    return len(body) > limit and _long_value_pattern(limit).search(body) is not None


def _truncate_protobuf(request, limit: int) -> bool:
    """Truncate long string values; only messages bigger than the limit can hold one."""
    changed = False
    for rs in request.resource_spans:
        if rs.ByteSize() <= limit:
            continue
        changed |= _truncate_kvs(rs.resource.attributes, limit)
        for ss in rs.scope_spans:
            if ss.ByteSize() <= limit:
                continue
            for span in ss.spans:
                if span.ByteSize() > limit:
                    changed |= _truncate_kvs(span.attributes, limit)
                    for event in span.events:
                        changed |= _truncate_kvs(event.attributes, limit)
    return changed


def _truncate_kvs(kvs, limit: int) -> bool:
    changed = False
    for kv in kvs:
        value = kv.value
        if value.WhichOneof("value") == "string_value" and len(value.string_value) > limit:
            value.string_value = value.string_value[:limit]
            changed = True
    return changed


# --- OTLP/JSON ---

def check_json(body: bytes, limits: Limits) -> Checked:
    """A body that fits ``otlp_json``'s types with valid spans goes on unchanged;
    any other is walked in full, which refuses, drops or rewrites what it must."""
    spans = _decode_clean_json(body, limits.max_value_length)
    if spans is not None and len(spans) > limits.max_spans:
        raise TooMany(f"{len(spans)} spans in one request; at most {limits.max_spans} are accepted")
    if spans is not None and _valid_spans(spans):
        return Checked(body, len(spans))
    return _walk_json(body, limits)


def _decode_clean_json(body: bytes, limit: int) -> list | None:
    """All spans of a body that may need no change (msgspec checks its types in C), or None."""
    try:
        body.decode()  # msgspec skips unread fields without checking their UTF-8
        request = otlp_json.decoder(limit).decode(body)
    except (UnicodeDecodeError, msgspec.DecodeError, msgspec.ValidationError, RecursionError):  # the last: deep nesting
        return None
    if request.appId is not msgspec.UNSET or request.receivedUnixNano is not msgspec.UNSET:
        return None
    return [span for rs in request.resourceSpans or () for ss in rs.scopeSpans or () for span in ss.spans or ()]


_HEX_DIGITS = b"0123456789abcdefABCDEF"


def _valid_spans(spans: list) -> bool:
    """The walk's span rules, checked a column at a time at C speed: ids are hex and
    not all zero (their lengths are typed), a parent is empty or 16 digits, times
    are digits and no end is before its start."""
    if not spans:
        return True
    traces, ids = [s.traceId for s in spans], [s.spanId for s in spans]
    parents = [s.parentSpanId for s in spans]
    return (
        not "".join(traces + ids + parents).encode().translate(None, _HEX_DIGITS)  # bytes: C-fast
        and "0" * 32 not in traces and "0" * 16 not in ids
        and set(map(len, parents)) <= {0, 16}
        and _times_in_order([s.startTimeUnixNano for s in spans], [s.endTimeUnixNano for s in spans])
    )


def _times_in_order(starts: list, ends: list) -> bool:
    """Times are digits and no end is before its start. Strings of digits of one
    length (as SDKs send them) compare as text, without a conversion each."""
    times = starts + ends
    try:
        text, one_width = "".join(times), len(set(map(len, times))) <= 1
    except TypeError:  # some are JSON numbers
        text, one_width = "".join(map(str, times)), False
    if not text.encode().isdigit():  # bytes: ASCII digits only, and C-fast
        return False
    if one_width:
        return not any(map(operator.lt, ends, starts))
    return not any(map(operator.lt, map(int, ends), map(int, starts)))


def _walk_json(body: bytes, limits: Limits) -> Checked:
    """Every check on a decoded copy: the reference for what ``check_json`` accepts."""
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"the body is not JSON ({exc})") from None
    if not isinstance(request, dict):
        raise Invalid("the body is not a JSON object")
    # the landing record's own fields: a client must not choose its application
    spoofed = [request.pop(k) for k in RESERVED_JSON_KEYS if k in request]
    try:
        scopes = [ss for rs in _array(request.get("resourceSpans")) for ss in _array(rs.get("scopeSpans"))]
        total = sum(len(_array(ss.get("spans"))) for ss in scopes)
        if total > limits.max_spans:
            raise TooMany(f"{total} spans in one request; at most {limits.max_spans} are accepted")
        rejected, reason, changed = _check_json_scopes(scopes, limits.max_value_length)
        for rs in _array(request.get("resourceSpans")):
            changed |= _truncate_json_kvs(_object(rs.get("resource")).get("attributes"), limits.max_value_length)
    except (AttributeError, TypeError, ValueError) as exc:
        raise Invalid(f"the body is not an OTLP/JSON ExportTraceServiceRequest ({exc})") from None
    if changed or spoofed:
        body = orjson.dumps(request)
    return Checked(body, total - rejected, rejected, _message(rejected, reason))


def _check_json_scopes(scopes: list, limit: int) -> tuple[int, str, bool]:
    rejected, reason, changed = 0, "", False
    for ss in scopes:
        spans = _array(ss.get("spans"))
        _object(ss.get("scope"))
        good = []
        for span in spans:
            why = _bad_json_span(span)
            if why:
                reason = reason or why
                continue
            changed |= _normalize_json_span(span, limit)
            good.append(span)
        if len(good) != len(spans):
            ss["spans"] = good
            rejected += len(spans) - len(good)
            changed = True
    return rejected, reason, changed


RESERVED_JSON_KEYS = ("appId", "receivedUnixNano")
_HEX = frozenset("0123456789abcdefABCDEF")


def _bad_json_span(span: dict) -> str:
    trace_id, span_id, parent = span.get("traceId", ""), span.get("spanId", ""), span.get("parentSpanId", "")
    if len(trace_id) != 32 or not _HEX.issuperset(trace_id) or trace_id.strip("0") == "":
        return "traceId must be 32 hex digits, not all zero"
    if len(span_id) != 16 or not _HEX.issuperset(span_id) or span_id.strip("0") == "":
        return "spanId must be 16 hex digits, not all zero"
    if parent and (len(parent) != 16 or not _HEX.issuperset(parent)):
        return "parentSpanId must be empty or 16 hex digits"
    start, end = span.get("startTimeUnixNano") or 0, span.get("endTimeUnixNano") or 0
    _need(_is_uint(start) and _is_uint(end), "times are unsigned integers")
    if int(end) < int(start):
        return "endTimeUnixNano is before startTimeUnixNano"
    return ""


_KINDS = {
    "SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3, "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5,
}
_STATUS = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


def _normalize_json_span(span: dict, limit: int) -> bool:
    """Enum names (some senders write them) become numbers, long values are cut;
    a value the store could not read refuses the whole request (``ValueError``)
    here rather than failing an insert later."""
    changed = False
    if isinstance(span.get("kind"), str):
        span["kind"] = _KINDS.get(span["kind"], 0)
        changed = True
    status = _object(span.get("status"))
    if status and isinstance(status.get("code"), str):
        status["code"] = _STATUS.get(status["code"], 0)
        changed = True
    _need(_is_int(span.get("kind", 0), 31) and (not status or _is_int(status.get("code", 0), 31)), "kind and status.code are integers")
    changed |= _truncate_json_kvs(span.get("attributes"), limit)
    for event in _array(span.get("events")):
        _need(_is_uint(event.get("timeUnixNano", 0)), "timeUnixNano is an unsigned integer")
        changed |= _truncate_json_kvs(event.get("attributes"), limit)
    for link in _array(span.get("links")):
        changed |= _truncate_json_kvs(link.get("attributes"), limit)
    return changed


_INT = re.compile(r"-?[0-9]{1,19}")


def _is_int(x, bits: int = 63) -> bool:
    if isinstance(x, str) and _INT.fullmatch(x):
        x = int(x)
    return isinstance(x, int) and not isinstance(x, bool) and -(2**bits) <= x < 2**bits


def _is_uint(x) -> bool:
    if isinstance(x, str) and x.isascii() and x.isdigit():  # not other scripts' digits
        x = int(x)
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 2**64


def _array(x) -> list:
    """A JSON array, or none; the store could not read another type in its place."""
    _need(x is None or isinstance(x, list), "arrays are JSON arrays")
    return x or []


def _object(x) -> dict:
    """A JSON object, or none; the store could not read another type in its place."""
    _need(x is None or isinstance(x, dict), "objects are JSON objects")
    return x or {}


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(what)


_VALUE_CHECKS = {
    "stringValue": lambda x: isinstance(x, str),
    "bytesValue": lambda x: isinstance(x, str),
    "boolValue": lambda x: isinstance(x, bool),
    "intValue": _is_int,
    "doubleValue": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
    "arrayValue": lambda x: isinstance(x, dict) and all(_valid_any(v) for v in _array(x.get("values"))),
}


def _valid_any(value) -> bool:
    return isinstance(value, dict) and all(_VALUE_CHECKS.get(k, _ignored)(x) for k, x in value.items())


def _ignored(x) -> bool:
    return True


def _truncate_json_kvs(kvs, limit: int) -> bool:
    changed = False
    for kv in _array(kvs):
        value = _object(kv.get("value"))
        if len(value) == 1 and "stringValue" in value and type(value["stringValue"]) is str:
            pass  # the common case, checked without the general walk
        elif not _valid_any(value):
            raise ValueError("attribute values are AnyValue objects")
        text = value.get("stringValue")
        if text is not None and len(text) > limit:
            value["stringValue"] = text[:limit]
            changed = True
    return changed
