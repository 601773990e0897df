"""Real OpenTelemetry SDK exporters against the running service; spans read back from the store."""
from __future__ import annotations

import socket

import pytest
from opentelemetry.exporter.otlp.proto.grpc.exporter import Compression as GrpcCompression
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.harness import ServiceProcess, free_port, run_cli
from tests.otlp_sdk import grpc_exporter, http_exporter, http_spans, span_ids


def create_key(data_dir, app: str) -> str:
    result = run_cli("keys", "create", "--app", app, data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    assert key.startswith("snk_live_") and len(key) > 30
    return key


def stored(data_dir, where: str = "1") -> list[list[str]]:
    sql = (
        "SELECT SpanId, AppId, ServiceName, HttpMethod, HttpRoute, HttpTarget, HttpStatusCode, ClientIp, UserAgent, SpanKind "
        f"FROM otel_traces WHERE {where} ORDER BY SpanId"
    )
    result = run_cli("sql", sql, data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    return [line.split("\t") for line in result.stdout.splitlines()]


def test_python_sdk_grpc_and_http_protobuf_land_with_their_app_id(tmp_path):
    data = tmp_path / "data"
    grpc_key, http_key = create_key(data, "app-grpc"), create_key(data, "app-http")
    grpc_spans, http_spans_ = http_spans(7, service="grpc-svc"), http_spans(5, service="http-svc", status=404)
    gz_spans = http_spans(3, service="http-svc")
    with ServiceProcess(data) as svc:
        assert grpc_exporter(svc.otlp_grpc_target, grpc_key).export(grpc_spans) == SpanExportResult.SUCCESS
        assert grpc_exporter(svc.otlp_grpc_target, grpc_key, compression=GrpcCompression.Gzip).export(gz_spans) == SpanExportResult.SUCCESS
        assert http_exporter(svc.otlp_http_url, http_key).export(http_spans_) == SpanExportResult.SUCCESS
    assert svc.proc.returncode == 0, svc.log()
    rows = stored(data)
    by_app = {}
    for row in rows:
        by_app.setdefault(row[1], set()).add(row[0])
    assert by_app == {"app-grpc": span_ids(grpc_spans) | span_ids(gz_spans), "app-http": span_ids(http_spans_)}
    http_row = next(r for r in rows if r[1] == "app-http")
    assert http_row[2:] == ["http-svc", "GET", "/api/items/:id", http_row[5], "404", "198.51.100.9", "sdk-test/1.0", "SPAN_KIND_SERVER"]
    assert http_row[5].startswith("/api/items/")


def test_http_gzip_and_revocation_on_a_running_service(tmp_path):
    data = tmp_path / "data"
    with ServiceProcess(data) as svc:
        key = create_key(data, "shop")  # through the running service's admin socket
        before = http_spans(4)
        exporter = http_exporter(svc.otlp_http_url, key, compression=HttpCompression.Gzip)
        assert exporter.export(before) == SpanExportResult.SUCCESS
        key_id = key[: len("snk_live_") + 8]
        revoked = run_cli("keys", "revoke", key_id, data_dir=data)
        assert revoked.returncode == 0 and key_id in revoked.stdout, revoked.stderr
        listed = run_cli("keys", "list", data_dir=data)
        assert key_id in listed.stdout and "revoked" in listed.stdout
        # the admin socket reloads the service's key cache at once
        assert exporter.export(http_spans(2)) == SpanExportResult.FAILURE
        assert grpc_exporter(svc.otlp_grpc_target, key).export(http_spans(1)) == SpanExportResult.FAILURE
    assert svc.proc.returncode == 0, svc.log()
    assert {r[0] for r in stored(data)} == span_ids(before)


@pytest.mark.parametrize("flag,setting", [("--grpc-port", "grpc_port"), ("--http-port", "http_port"), ("--api-port", "api_port")])
def test_busy_receiver_port_stops_start_up_with_one_line(tmp_path, flag, setting):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        ports = {"--grpc-port": free_port(), "--http-port": free_port(), "--api-port": free_port()}
        ports[flag] = sock.getsockname()[1]
        result = run_cli("serve", "--host", "127.0.0.1", *[str(x) for item in ports.items() for x in item], data_dir=tmp_path)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("collector: ")]
    assert len(errors) == 1 and errors[0].startswith(f"collector: {setting}: ") and "Traceback" not in result.stderr
