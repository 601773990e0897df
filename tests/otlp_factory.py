"""Builds OTLP requests with the official protobuf classes, for tests.

Spans look like what Express instrumentation emits for HTTP server requests.
``semconv="old"`` uses http.method / http.status_code / net.peer.ip ...,
``semconv="new"`` uses http.request.method / http.response.status_code /
client.address ...
"""
from __future__ import annotations

import os
import time

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status


def kv(key: str, value) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def http_attributes(method: str, route: str, path: str, status: int, ip: str, agent: str, semconv: str) -> list[KeyValue]:
    if semconv == "new":
        names = ("http.request.method", "http.route", "url.path", "http.response.status_code", "client.address", "user_agent.original")
    else:
        names = ("http.method", "http.route", "http.target", "http.status_code", "net.peer.ip", "http.user_agent")
    return [kv(n, v) for n, v in zip(names, (method, route, path, status, ip, agent))]


def make_request(
    spans: int = 10,
    service: str = "shop-api",
    status: int = 200,
    method: str = "GET",
    route: str = "/api/users/:id",
    ip: str = "203.0.113.7",
    agent: str = "Mozilla/5.0",
    semconv: str = "old",
    start_ns: int | None = None,
    duration_ns: int = 1_500_000,
) -> ExportTraceServiceRequest:
    """One resource, one scope, ``spans`` server spans with distinct random ids."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend([kv("service.name", service), kv("host.name", "web-1")])
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name, scope_spans.scope.version = "@opentelemetry/instrumentation-http", "0.52.0"
    start = time.time_ns() if start_ns is None else start_ns
    for i in range(spans):
        span = scope_spans.spans.add()
        span.trace_id, span.span_id = os.urandom(16), os.urandom(8)
        span.name, span.kind = f"{method} {route}", Span.SPAN_KIND_SERVER
        span.start_time_unix_nano = start + i * 1000
        span.end_time_unix_nano = span.start_time_unix_nano + duration_ns
        span.attributes.extend(http_attributes(method, route, f"/api/users/{i}", status, ip, agent, semconv))
        span.status.code = Status.STATUS_CODE_ERROR if status >= 500 else Status.STATUS_CODE_UNSET
    return request


def span_ids(request: ExportTraceServiceRequest) -> set[str]:
    return {s.span_id.hex() for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans}


def to_json(request: ExportTraceServiceRequest, indent: int | None = None) -> bytes:
    """The request as OTLP/JSON: lowerCamelCase keys, hex ids, enums as numbers, int64 as strings."""
    import base64
    import json

    from google.protobuf.json_format import MessageToDict

    data = MessageToDict(request, use_integers_for_enums=True)

    def hexify(obj, keys=("traceId", "spanId", "parentSpanId")):
        for key in keys:
            if key in obj:
                obj[key] = base64.b64decode(obj[key]).hex()

    for rs in data.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                hexify(span)
                for link in span.get("links", []):
                    hexify(link)
    return json.dumps(data, indent=indent).encode()
