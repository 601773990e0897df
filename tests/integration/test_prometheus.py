"""A real Prometheus scrapes the running service; every dashboard and alert expression has data.

Traffic goes through the real receivers with the real OpenTelemetry SDK exporters (good
keys, a bad key, a partly invalid request) and through the API port, so each metric a
panel or alert reads has a series; then each expression is evaluated by Prometheus'
HTTP API and must return at least one finite value.
"""
from __future__ import annotations

import json
import math
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

from opentelemetry.sdk.trace.export import SpanExportResult

from tests import promql
from tests.harness import ServiceProcess, free_port, run_cli
from tests.otlp_factory import make_request
from tests.otlp_sdk import grpc_exporter, http_exporter, http_spans
from tests.tools import prometheus_binary  # noqa: F401 (fixture)

# Expressions whose metric no merged code can make non-empty in a short healthy run,
# each with the reason. Everything else must return data.
# The traces route allows 2 requests a minute here, so the drive below also gets 429s.
RATE_LIMITS = "/api/traces=2"


class PrometheusProcess:
    def __init__(self, binary: str, workdir: Path, target_port: int):
        self.binary, self.workdir, self.port = binary, workdir, free_port()
        self.target_port = target_port
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "PrometheusProcess":
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(promql.ALERTS)],
            "scrape_configs": [{"job_name": "collector", "static_configs": [{"targets": [f"127.0.0.1:{self.target_port}"]}]}],
        }
        (self.workdir / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
        log = open(self.workdir / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            [self.binary, f"--config.file={self.workdir / 'prometheus.yml'}", f"--storage.tsdb.path={self.workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log()
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        raise AssertionError("Prometheus did not become ready:\n" + self.log())

    def log(self) -> str:
        return (self.workdir / "prometheus.log").read_text(errors="replace")

    def query(self, expr: str) -> list[dict]:
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = json.load(resp)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def post_protobuf(svc: ServiceProcess, key: str, body: bytes) -> int:
    request = urllib.request.Request(
        svc.otlp_http_url + "/v1/traces", data=body, method="POST",
        headers={"Content-Type": "application/x-protobuf", "x-api-key": key},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def drive_traffic(svc: ServiceProcess, key: str) -> None:
    assert grpc_exporter(svc.otlp_grpc_target, key).export(http_spans(20, service="grpc-svc")) == SpanExportResult.SUCCESS
    assert http_exporter(svc.otlp_http_url, key).export(http_spans(20, service="http-svc", status=500)) == SpanExportResult.SUCCESS
    bad_key = "snk_live_" + "0" * 40
    assert grpc_exporter(svc.otlp_grpc_target, bad_key).export(http_spans(2)) == SpanExportResult.FAILURE
    assert post_protobuf(svc, bad_key, make_request(2).SerializeToString()) == 401
    partly_invalid = make_request(5)
    partly_invalid.resource_spans[0].scope_spans[0].spans[0].trace_id = b"\0" * 16
    assert post_protobuf(svc, key, partly_invalid.SerializeToString()) == 200  # partial success
    for path in ("/healthz", "/readyz", "/metrics"):
        assert get_status(svc.api_url + path) == 200
    assert get_status(svc.api_url + "/no/such/route") == 404
    statuses = {get_status(svc.api_url + "/api/traces") for _ in range(3)}
    assert 429 in statuses, statuses  # unauthenticated, but limited before the token is checked


def has_data(result: list[dict]) -> bool:
    return any(math.isfinite(float(sample["value"][1])) for sample in result)


def expressions() -> list[tuple[str, str]]:
    found = [(f"{dashboard} / {title}", promql.fill_grafana_variables(expr)) for dashboard, title, expr in promql.dashboard_promql()]
    found += [(f"alert {rule['alert']}", promql.alert_value(rule["expr"])) for rule in promql.alert_rules()]
    return found


def test_every_dashboard_panel_and_alert_expression_has_data(tmp_path, prometheus_binary):
    data = tmp_path / "data"
    created = run_cli("keys", "create", "--app", "shop", data_dir=data)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    with ServiceProcess(data, args=["--api-rate-limits", RATE_LIMITS]) as svc:
        prom = PrometheusProcess(prometheus_binary, tmp_path / "prometheus", svc.api_port).start()
        try:
            deadline = time.monotonic() + 60
            drive_traffic(svc, key)
            while not has_data(prom.query("sum(otelcol_exporter_sent_spans_total) >= 43")):
                assert time.monotonic() < deadline, "the spans never reached the store:\n" + svc.log()
                time.sleep(0.5)
            drive_traffic(svc, key)  # a second round inside every rate window, after Prometheus knows each series
            time.sleep(3)  # three more scrapes
            missing = [f"{where}: {expr}" for where, expr in expressions() if not has_data(prom.query(expr))]
            with urllib.request.urlopen(prom.url + "/api/v1/rules", timeout=10) as resp:
                groups = json.load(resp)["data"]["groups"]
        finally:
            prom.stop()
    assert not missing, "expressions without data:\n" + "\n".join(missing)
    assert sum(len(g["rules"]) for g in groups) == len(promql.alert_rules())
    assert all(r["health"] == "ok" for g in groups for r in g["rules"]), groups
