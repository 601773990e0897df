"""/metrics on the API port: Prometheus text with process metrics; each API request counted once."""
from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.harness import ServiceProcess
from tests.integration.test_prometheus import get_status


def scrape(svc: ServiceProcess) -> dict[tuple, float]:
    request = urllib.request.Request(svc.api_url + "/metrics", headers={"Accept": "text/plain;version=0.0.4"})
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = resp.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text) for sample in family.samples
    }


def test_metrics_count_each_request_once_under_its_route_pattern(tmp_path):
    with ServiceProcess(tmp_path / "data") as svc:
        before = scrape(svc)
        for _ in range(7):
            assert get_status(svc.api_url + "/healthz") == 200
        for path in ("/a/b/c", "/x?secret=1", "/snk_live_abc"):
            assert get_status(svc.api_url + path) == 404
        after = scrape(svc)
    healthz = ("collector_api_requests_total", (("route", "/healthz"), ("status", "200")))
    unmatched = ("collector_api_requests_total", (("route", "unmatched"), ("status", "404")))
    assert after[healthz] - before.get(healthz, 0) == 7
    assert after[unmatched] - before.get(unmatched, 0) == 3
    routes = {dict(labels)["route"] for name, labels in after if name == "collector_api_requests_total"}
    assert not any("snk_live" in r or "secret" in r or "/a/b" in r for r in routes)
    assert after[("process_resident_memory_bytes", ())] > 10 << 20
    assert ("process_cpu_seconds_total", ()) in after
    zeroed = ("otelcol_exporter_send_failed_spans_total", (("exporter", "clickhouse"),))
    assert after[zeroed] == 0



def test_sigterm_keeps_serving_with_readyz_503_for_the_drain_delay(tmp_path):
    import json
    import signal
    import time

    with ServiceProcess(tmp_path / "data", args=["--drain-delay-ms", "3000"]) as svc:
        assert get_status(svc.api_url + "/readyz") == 200
        svc.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        with urllib.request.urlopen(svc.api_url + "/healthz", timeout=5) as resp:
            assert resp.status == 200  # alive, still serving
        try:
            urllib.request.urlopen(svc.api_url + "/readyz", timeout=5)
            raise AssertionError("/readyz answered 200 while draining")
        except urllib.error.HTTPError as exc:
            assert exc.code == 503 and json.load(exc)["problems"]["shutdown"] == "draining"
        assert svc.proc.wait(30) == 0
    assert "draining: still serving for 3000 ms" in svc.log()
