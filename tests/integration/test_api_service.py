"""The API of the real service: spans from a real OpenTelemetry SDK exporter through the
OTLP/HTTP receiver, tokens managed by the CLI while the service runs, a process in
another time zone, and a property-based run of schemathesis against /api/openapi.json."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from collector.timerange import iso
from tests.api_support import NS, day_base, get
from tests.harness import ServiceProcess, run_cli
from tests.otlp_sdk import http_exporter


def cli_ok(data, *args) -> str:
    result = run_cli(*args, data_dir=data)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def wait_for_rows(svc, token: str, count: int, timeout: float = 30.0, **window) -> None:
    """The receivers acknowledge once spans are in the write-ahead log; the writer puts
    them in the store a moment later. Wait until the API sees them all."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body, _ = get(svc.api_url, "/api/traces", token, limit=1000, **window)
        if status == 200 and len(body["traces"]) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"the API did not see {count} traces within {timeout} s")


def sdk_spans(times_and_statuses: list[tuple[int, int]], route: str = "/api/items/:id") -> list:
    """One SERVER span per (start ns, status), made by the SDK with explicit times."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "sdk-svc"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.api", "1.0")
    for i, (start, status) in enumerate(times_and_statuses):
        span = tracer.start_span(f"GET {route}", kind=SpanKind.SERVER, start_time=start)
        span.set_attributes({"http.method": "GET", "http.route": route, "http.target": f"/api/items/{i}",
                             "http.status_code": status, "net.peer.ip": "198.51.100.9", "http.user_agent": "sdk/1"})
        span.end(end_time=start + 2_000_000)
    provider.shutdown()
    return list(memory.get_finished_spans())


def test_sdk_spans_through_the_receiver_read_back_in_utc_buckets_by_a_service_in_another_zone(tmp_path):
    data = tmp_path / "data"
    base = day_base(10)
    edge = [(base + 3599 * NS + 999_999_000, 404), (base + 3600 * NS, 404), (base + 3600 * NS + 1, 500)]
    spans = sdk_spans([(base + i * 60 * NS, 200) for i in range(5)] + edge)
    # Kolkata is UTC+05:30: a bucket computed in local time would be shifted by half an hour
    with ServiceProcess(data, env={"TZ": "Asia/Kolkata"}) as svc:
        key = cli_ok(data, "keys", "create", "--app", "shop")
        token = cli_ok(data, "tokens", "create", "--apps", "shop", "--name", "e2e")
        assert http_exporter(svc.otlp_http_url, key).export(spans) == SpanExportResult.SUCCESS
        wait_for_rows(svc, token, len(spans), **{"from": iso(base), "to": iso(base + 2 * 3600 * NS)})
        window = {"from": iso(base), "to": iso(base + 2 * 3600 * NS), "interval": "1h"}
        status, body, _ = get(svc.api_url, "/api/analytics/4xx-responses", token, **window)
        assert status == 200, body
        assert [(b["start"], b["count"]) for b in body["buckets"]] == [(iso(base), 1), (iso(base + 3600 * NS), 1)]
        _, body, _ = get(svc.api_url, "/api/analytics/2xx-responses", token, **window)
        assert body["total"] == 5 and body["buckets"][0]["count"] == 5
        _, body, _ = get(svc.api_url, "/api/traces", token, **{"from": iso(base), "to": iso(base + 7200 * NS)})
        assert len(body["traces"]) == 8
        assert body["traces"][0]["start"] == iso(base + 3600 * NS + 1) and body["traces"][0]["status"] == 500
        assert {t["spanId"] for t in body["traces"]} == {format(s.context.span_id, "016x") for s in spans}
        trace_id = body["traces"][0]["traceId"]
        status, trace, _ = get(svc.api_url, f"/api/traces/{trace_id}", token)
        assert status == 200 and trace["spans"][0]["attributes"]["http.status_code"] == "500"
        _, errors, _ = get(svc.api_url, "/api/analytics/500-errors", token, **window)
        assert errors["total"] == 1 and errors["errors"][0]["sampleTraceIds"] == [trace_id]
        # the hourly IP rollup: 10:00Z-11:00Z holds the five 200s and the 404 at 10:59:59.999
        _, ips, _ = get(svc.api_url, "/api/applications/shop/ips", token, **{"from": iso(base), "to": iso(base + 3600 * NS)})
        assert [(i["ip"], i["requests"], i["errors"]) for i in ips["ips"]] == [("198.51.100.9", 6, 1)]
    assert svc.proc.returncode == 0, svc.log()


def test_tokens_are_managed_by_the_cli_while_the_service_runs_and_stored_hashed(tmp_path):
    data = tmp_path / "data"
    with ServiceProcess(data) as svc:
        token = cli_ok(data, "tokens", "create", "--apps", "shop,shop-eu", "--name", "dashboard")
        assert token.startswith("snk_api_")
        assert get(svc.api_url, "/api/applications/shop-eu/ips", token)[0] == 200
        listed = cli_ok(data, "tokens", "list").splitlines()
        assert len(listed) == 1 and "\tdashboard\tshop,shop-eu\t" in listed[0] and listed[0].endswith("active")
        token_id = listed[0].split("\t")[0]
        assert cli_ok(data, "tokens", "revoke", token_id) == f"revoked {token_id}"
        # the admin socket reloads the token cache at once
        assert get(svc.api_url, "/api/traces", token)[:2] == (401, {"error": "Invalid or revoked token"})
        refused = run_cli("tokens", "create", "--apps", "bad app", data_dir=data)
        assert refused.returncode == 1 and "apps: 'bad app' is not an application id" in refused.stderr
    assert svc.proc.returncode == 0, svc.log()
    stored = cli_ok(data, "sql", "SELECT TokenHash, RevokedAt IS NOT NULL FROM api_tokens FINAL")
    assert stored == f"{hashlib.sha256(token.encode()).hexdigest()}\t1"


def test_schemathesis_finds_no_server_error(tmp_path):
    data = tmp_path / "data"
    with ServiceProcess(data, args=["--api-rate-limit", "100000"]) as svc:
        token = cli_ok(data, "tokens", "create", "--apps", "shop")
        key = cli_ok(data, "keys", "create", "--app", "shop")
        now = time.time_ns()
        spans = sdk_spans([(now - i * 7 * NS, s) for i, s in enumerate([200, 201, 302, 404, 500, 503] * 5)])
        assert http_exporter(svc.otlp_http_url, key).export(spans) == SpanExportResult.SUCCESS
        wait_for_rows(svc, token, len(spans), **{"from": "1h"})
        # real identifiers for the path parameters, so those operations reach their queries
        config = tmp_path / "schemathesis.toml"
        config.write_text(
            '[[operations]]\ninclude-name = "GET /api/applications/{id}/ips"\nparameters = { id = "shop" }\n'
            '[[operations]]\ninclude-name = "GET /api/traces/{traceId}"\n'
            f'parameters = {{ traceId = "{format(spans[0].context.trace_id, "032x")}" }}\n'
        )
        started = time.monotonic()
        run = subprocess.run(
            [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config), "run", svc.api_url + "/api/openapi.json",
             "-H", f"Authorization: Bearer {token}", "--checks", "not_a_server_error,status_code_conformance,"
             "content_type_conformance,response_schema_conformance", "--max-examples", "25", "--seed", "7",
             "--workers", "2"],
            capture_output=True, text=True, timeout=120,
        )
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        assert "Missing test data" not in run.stdout, run.stdout[-3000:]
        assert time.monotonic() - started < 60
        # (aiohttp's own parser logs the malformed-header probes it answers 400; our handlers log nothing)
        assert "ERROR collector" not in svc.log()
    assert svc.proc.returncode == 0, svc.log()
