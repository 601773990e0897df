"""Every refusal the OTLP spec prescribes, on the running service; after each one
the service still serves, and at the end every accepted span is in the store."""
from __future__ import annotations

import gzip
import http.client
import json
import zlib

import grpc
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub

from collector.receiver_http import _zstd
from tests.harness import ServiceProcess, run_cli
from tests.otlp_factory import make_request, span_ids, to_json

LIMIT = 200_000
PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}


class Ingest:
    """The service under test, a valid key, and what it acknowledged."""

    def __init__(self, svc: ServiceProcess, key: str):
        self.svc, self.key, self.accepted = svc, key, set()

    def post(self, body, headers: dict, key: str | None = None, chunked: bool = False):
        conn = http.client.HTTPConnection("127.0.0.1", self.svc.http_port, timeout=30)
        headers = dict(headers, **({"x-api-key": self.key if key is None else key} if key != "" else {}))
        conn.request("POST", "/v1/traces", body=body, headers=headers, encode_chunked=chunked)
        resp = conn.getresponse()
        result = resp.status, dict(resp.getheaders()), resp.read()
        conn.close()
        return result

    def send_good(self, spans: int = 3, fmt: str = "protobuf"):
        request = make_request(spans)
        body = request.SerializeToString() if fmt == "protobuf" else to_json(request)
        status, _, answer = self.post(body, PB if fmt == "protobuf" else JS)
        assert status == 200, answer
        self.accepted |= span_ids(request)

    def stub(self):
        return TraceServiceStub(grpc.insecure_channel(self.svc.otlp_grpc_target))


@pytest.fixture(scope="module")
def ingest(tmp_path_factory):
    data = tmp_path_factory.mktemp("errors") / "data"
    key = run_cli("keys", "create", "--app", "err-app", data_dir=data).stdout.strip()
    svc = ServiceProcess(data, args=["--max-body-bytes", str(LIMIT), "--max-spans-per-request", "200"]).start()
    yield Ingest(svc, key)
    svc.stop()


def status_of(body: bytes, fmt: str = "protobuf"):
    if fmt == "json":
        return json.loads(body)
    return status_pb2.Status.FromString(body)


def test_gzip_bomb_is_refused_413_without_inflating(ingest):
    bomb = gzip.compress(bytes(50_000_000), 9)
    assert len(bomb) < LIMIT
    status, _, body = ingest.post(bomb, dict(PB, **{"Content-Encoding": "gzip"}))
    assert status == 413 and "limit" in status_of(body).message
    ingest.send_good()


def test_chunked_body_over_the_limit_is_refused_413(ingest):
    chunks = (bytes(50_000) for _ in range(10))  # 500 kB, no Content-Length
    status, _, _ = ingest.post(chunks, PB, chunked=True)
    assert status == 413
    ingest.send_good()


def test_deflate_and_chunked_bodies_within_the_limit_are_accepted(ingest):
    request = make_request(4)
    body = zlib.compress(request.SerializeToString())
    status, headers, answer = ingest.post(iter([body[:10], body[10:]]), dict(PB, **{"Content-Encoding": "deflate"}), chunked=True)
    assert status == 200 and headers["Content-Type"] == "application/x-protobuf"
    assert not ExportTraceServiceResponse.FromString(answer).HasField("partial_success")
    ingest.accepted |= span_ids(request)

    request = make_request(2)
    body = _zstd.compress(to_json(request))
    status, headers, answer = ingest.post(body, dict(JS, **{"Content-Encoding": "zstd"}))
    assert (status, headers["Content-Type"], answer) == (200, "application/json", b"{}")
    ingest.accepted |= span_ids(request)


def test_truncated_protobuf_is_refused_400(ingest):
    body = make_request(3).SerializeToString()[:-5]
    status, _, answer = ingest.post(body, PB)
    assert status == 400 and status_of(answer).code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    ingest.send_good()


def test_malformed_json_is_refused_400_with_a_json_status(ingest):
    status, headers, answer = ingest.post(b'{"resourceSpans": [', JS)
    assert status == 400 and headers["Content-Type"] == "application/json"
    assert "not JSON" in status_of(answer, "json")["message"]
    ingest.send_good(fmt="json")


@pytest.mark.parametrize("key", ["", "snk_live_notarealkey000000000000000000", "Bearer-less"])
def test_missing_or_wrong_key_is_refused_401(ingest, key):
    status, _, answer = ingest.post(make_request(2).SerializeToString(), PB, key=key)
    assert status == 401 and status_of(answer).code == grpc.StatusCode.UNAUTHENTICATED.value[0]
    ingest.send_good()


def test_revoked_key_is_refused_401(ingest):
    data = ingest.svc.data_dir
    other = run_cli("keys", "create", "--app", "short-lived", data_dir=data).stdout.strip()
    request = make_request(2)
    assert ingest.post(request.SerializeToString(), PB, key=other)[0] == 200
    ingest.accepted |= span_ids(request)
    assert run_cli("keys", "revoke", other[:17], data_dir=data).returncode == 0
    assert ingest.post(make_request(2).SerializeToString(), PB, key=other)[0] == 401
    ingest.send_good()


def test_other_content_type_is_refused_415(ingest):
    status, _, _ = ingest.post(b"hello", {"Content-Type": "text/plain"})
    assert status == 415
    status, _, _ = ingest.post(make_request(1).SerializeToString(), dict(PB, **{"Content-Encoding": "br"}))
    assert status == 415
    ingest.send_good()


def test_too_many_spans_is_refused_413(ingest):
    status, _, answer = ingest.post(make_request(201).SerializeToString(), PB)
    assert status == 413 and "201 spans" in status_of(answer).message
    ingest.send_good()


def test_invalid_spans_get_partial_success(ingest):
    request = make_request(5)
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[0].trace_id = b"short"
    status, _, answer = ingest.post(request.SerializeToString(), PB)
    response = ExportTraceServiceResponse.FromString(answer)
    assert status == 200 and response.partial_success.rejected_spans == 1
    assert "trace_id" in response.partial_success.error_message
    ingest.accepted |= span_ids(request) - {spans[0].span_id.hex()}

    doc = json.loads(to_json(make_request(3)))
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["endTimeUnixNano"] = "1"
    status, _, answer = ingest.post(json.dumps(doc, indent=2).encode(), JS)
    assert status == 200 and json.loads(answer) == {"partialSuccess": {"rejectedSpans": "1", "errorMessage": "1 span(s) rejected: endTimeUnixNano is before startTimeUnixNano"}}
    ingest.accepted |= {s["spanId"] for s in doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1:]}


def test_grpc_refusals_carry_the_spec_codes(ingest):
    stub = ingest.stub()
    auth = [("authorization", f"Bearer {ingest.key}")]
    with pytest.raises(grpc.RpcError) as info:
        stub.Export(make_request(2), metadata=[("x-api-key", "snk_live_wrong")])
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as info:
        stub.Export(make_request(201), metadata=auth)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    details = dict(info.value.trailing_metadata())["grpc-status-details-bin"]
    assert not status_pb2.Status.FromString(details).details  # no RetryInfo: do not retry
    big = make_request(150, agent="x" * 2000)
    assert big.ByteSize() > LIMIT
    with pytest.raises(grpc.RpcError) as info:
        stub.Export(big, metadata=auth)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    raw = grpc.insecure_channel(ingest.svc.otlp_grpc_target).unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
    with pytest.raises(grpc.RpcError) as info:  # a gzip bomb: small on the wire, 50 MB inflated
        raw(bytes(50_000_000), metadata=auth, compression=grpc.Compression.Gzip)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    with pytest.raises(grpc.RpcError) as info:
        raw(make_request(3).SerializeToString()[:-5], metadata=auth)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    request = make_request(4)
    request.resource_spans[0].scope_spans[0].spans[3].span_id = b""
    response = stub.Export(request, metadata=auth, compression=grpc.Compression.Gzip)
    assert response.partial_success.rejected_spans == 1
    ingest.accepted |= span_ids(request) - {""}  # the span without an id was dropped
    ingest.send_good()


def test_zz_everything_accepted_is_stored(ingest):
    """Last in this module: stop the service and read the store."""
    assert ingest.svc.stop() == 0, ingest.svc.log()
    out = run_cli("sql", "SELECT SpanId FROM otel_traces", data_dir=ingest.svc.data_dir)
    stored = out.stdout.split()
    assert len(stored) == len(set(stored))
    assert set(stored) == ingest.accepted
    errors = [line for line in ingest.svc.log().splitlines() if "Traceback" in line or " ERROR " in line]
    assert not errors, ingest.svc.log()
