"""The answers OTLP prescribes, encoded for each transport.

A refusal is one ``Refusal`` (kind, message, retry delay); this module maps it
once to an HTTP status with a ``google.rpc.Status`` body, or to a gRPC status
with ``RetryInfo`` details, and encodes successes (``partial_success``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import grpc
import orjson
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

# kind -> (HTTP status, gRPC code, whether the client is told when to retry)
KINDS = {
    "invalid": (400, grpc.StatusCode.INVALID_ARGUMENT, False),
    "unauthenticated": (401, grpc.StatusCode.UNAUTHENTICATED, False),
    "too_large": (413, grpc.StatusCode.RESOURCE_EXHAUSTED, False),
    "unsupported": (415, grpc.StatusCode.INVALID_ARGUMENT, False),
    "backpressure": (429, grpc.StatusCode.UNAVAILABLE, True),
    "unavailable": (503, grpc.StatusCode.UNAVAILABLE, True),
    "error": (500, grpc.StatusCode.INTERNAL, False),
}


@dataclass(eq=False)
class Refusal(Exception):
    kind: str
    message: str
    retry_after: float = 0.0

    def __post_init__(self):
        super().__init__(self.message)

    @property
    def http_status(self) -> int:
        return KINDS[self.kind][0]

    @property
    def grpc_code(self) -> grpc.StatusCode:
        return KINDS[self.kind][1]

    @property
    def retryable(self) -> bool:
        return KINDS[self.kind][2]

    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after)))

    def status(self) -> status_pb2.Status:
        status = status_pb2.Status(code=self.grpc_code.value[0], message=self.message)
        if self.retryable:
            delay = duration_pb2.Duration()
            delay.FromNanoseconds(int(max(self.retry_after, 0.001) * 1e9))
            packed = any_pb2.Any()
            packed.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
            status.details.append(packed)
        return status

    def http_body(self, fmt: str) -> bytes:
        status = self.status()
        if fmt == "json":
            return orjson.dumps(_status_json(status, self.retry_after if self.retryable else None))
        return status.SerializeToString()


def _status_json(status, retry_after: float | None) -> dict:
    out = {"code": status.code, "message": status.message}
    if retry_after is not None:
        out["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{max(retry_after, 0.001):g}s"}]
    return out


def success(rejected: int, message: str, fmt: str) -> bytes:
    if fmt == "json":
        if not rejected:
            return b"{}"
        return orjson.dumps({"partialSuccess": {"rejectedSpans": str(rejected), "errorMessage": message}})
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    return response.SerializeToString()
