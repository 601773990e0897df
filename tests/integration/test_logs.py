"""Structured logs: with --log-format json every line is one JSON object, and bad spans are
counted, not logged one by one."""
from __future__ import annotations

import json

from opentelemetry.sdk.trace.export import SpanExportResult

from tests.harness import ServiceProcess, run_cli
from tests.integration.test_prometheus import post_protobuf
from tests.otlp_factory import make_request
from tests.otlp_sdk import grpc_exporter, http_spans


def test_json_lines_and_no_line_per_span(tmp_path):
    data = tmp_path / "data"
    key = run_cli("keys", "create", "--app", "shop", data_dir=data).stdout.strip()
    bad = make_request(400)
    for span in bad.resource_spans[0].scope_spans[0].spans:
        span.span_id = b"\0" * 8  # every span invalid: 400 refusals in one request
    with ServiceProcess(data, args=["--log-format", "json"]) as svc:
        for _ in range(5):
            assert post_protobuf(svc, key, bad.SerializeToString()) in (200, 400)
            assert post_protobuf(svc, "snk_live_" + "1" * 40, make_request(50).SerializeToString()) == 401
        assert grpc_exporter(svc.otlp_grpc_target, key).export(http_spans(300)) == SpanExportResult.SUCCESS
    assert svc.proc.returncode == 0
    lines = [line for line in svc.log().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"ts", "level", "logger", "msg"} <= set(e) for e in entries)
    assert any(e["msg"] == "collector ready" for e in entries)
    # 2,000 invalid spans, 250 spans with a bad key and 300 good spans: a handful of lines, none per span
    assert len(entries) < 40, "\n".join(lines)
    span_id = bad.resource_spans[0].scope_spans[0].spans[1].trace_id.hex()
    assert not any(span_id in line for line in lines)
