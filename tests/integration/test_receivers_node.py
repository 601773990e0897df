"""The OpenTelemetry JavaScript SDK's OTLP/HTTP exporters (JSON and protobuf) on Node.js
against the running service. They send chunked bodies; the body limit holds for those."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.harness import ServiceProcess, run_cli

NODE_DIR = Path(__file__).resolve().parent.parent / "node"
LIMIT = 100_000


@pytest.fixture(scope="session")
def node_exporters() -> Path:
    """tests/node with its packages installed (``npm ci`` on a clean clone)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed for the JavaScript SDK tests")
    if not (NODE_DIR / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, capture_output=True, timeout=300)
    return NODE_DIR


def node_export(node_dir: Path, url: str, key: str, fmt: str, count: int, **env) -> dict:
    values = {"URL": url + "/v1/traces", "KEY": key, "FORMAT": fmt, "COUNT": str(count), **env}
    done = subprocess.run(["node", "export.mjs"], cwd=node_dir, env=dict(os.environ, **values), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_node_sdk_json_and_protobuf_exporters(node_exporters, tmp_path):
    data = tmp_path / "data"
    key = run_cli("keys", "create", "--app", "node-app", data_dir=data).stdout.strip()
    with ServiceProcess(data, args=["--max-body-bytes", str(LIMIT)]) as svc:
        as_json = node_export(node_exporters, svc.otlp_http_url, key, "json", 5, COMPRESSION="gzip")
        as_proto = node_export(node_exporters, svc.otlp_http_url, key, "proto", 4)
        as_proto_gz = node_export(node_exporters, svc.otlp_http_url, key, "proto", 3, COMPRESSION="gzip")
        too_big = node_export(node_exporters, svc.otlp_http_url, key, "json", 200, COMPRESSION="gzip", PAD="1000")
        wrong_key = node_export(node_exporters, svc.otlp_http_url, "snk_live_nope", "proto", 1)
        after = node_export(node_exporters, svc.otlp_http_url, key, "json", 2)
    assert svc.proc.returncode == 0, svc.log()
    assert [r["code"] for r in (as_json, as_proto, as_proto_gz, after)] == [0, 0, 0, 0]
    assert too_big["code"] == 1 and "Too Large" in too_big["error"]
    assert wrong_key["code"] == 1
    out = run_cli(
        "sql", "SELECT SpanId, AppId, ServiceName, HttpMethod, HttpRoute, HttpTarget, HttpStatusCode, ClientIp, UserAgent "
        "FROM otel_traces ORDER BY SpanId", data_dir=data,
    )
    rows = [line.split("\t") for line in out.stdout.splitlines()]
    expected = set(as_json["spanIds"] + as_proto["spanIds"] + as_proto_gz["spanIds"] + after["spanIds"])
    assert {r[0] for r in rows} == expected and len(rows) == len(expected)
    for row in rows:
        assert row[1:5] == ["node-app", "node-svc", "POST", "/api/orders"], row
        assert row[5].startswith("/api/orders/") and row[6:] == ["201", "192.0.2.44", "node-test/1.0"], row
