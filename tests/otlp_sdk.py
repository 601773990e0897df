"""Spans made by the real OpenTelemetry Python SDK, for the receivers' tests.

Spans are recorded in memory first, then handed to a real OTLP exporter, so a
test sees the exporter's own result (SUCCESS or FAILURE) for one export.
"""
from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind


def http_spans(count: int, service: str = "sdk-svc", route: str = "/api/items/:id", status: int = 200) -> list:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.sdk", "1.0")
    for i in range(count):
        with tracer.start_as_current_span(f"GET {route}", kind=SpanKind.SERVER) as span:
            span.set_attributes({
                "http.method": "GET", "http.route": route, "http.target": f"/api/items/{i}",
                "http.status_code": status, "net.peer.ip": "198.51.100.9", "http.user_agent": "sdk-test/1.0",
            })
    provider.shutdown()
    return list(memory.get_finished_spans())


def span_ids(spans) -> set[str]:
    return {format(s.context.span_id, "016x") for s in spans}


def grpc_exporter(target: str, key: str, **kwargs):
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=target, insecure=True, headers={"authorization": f"Bearer {key}"}, timeout=10, **kwargs)


def http_exporter(base_url: str, key: str, **kwargs):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=base_url + "/v1/traces", headers={"x-api-key": key}, timeout=10, **kwargs)
