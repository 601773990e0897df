"""The acknowledgement promise on the real service: SIGKILL under load, and a store outage.

Clients send OTLP/HTTP protobuf requests of fresh span ids and remember which were
answered 200. Whatever happens to the service, every acknowledged span must end
up in ClickHouse exactly once; a span whose request got no 200 may be absent or
present, but never twice.
"""
from __future__ import annotations

import http.client
import random
import threading
import time
import urllib.request

import pytest

from tests.harness import ServiceProcess, run_cli
from tests.otlp_factory import make_request, span_ids

FAST_SEALING = ["--wal-segment-max-age-ms", "150"]


def create_key(data_dir, app: str) -> str:
    result = run_cli("keys", "create", "--app", app, data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


class Client(threading.Thread):
    """Sends requests in a loop until stopped; sorts span ids by the answer."""

    def __init__(self, svc: ServiceProcess, key: str, spans: int = 5):
        super().__init__(daemon=True)
        self.svc, self.key, self.spans = svc, key, spans
        self.acked: set[str] = set()
        self.unacked: set[str] = set()
        self.statuses: dict[int, int] = {}
        self.retry_after: set[str] = set()
        self.stopping = threading.Event()

    def run(self) -> None:
        conn = None
        while not self.stopping.is_set():
            request = make_request(self.spans)
            ids = span_ids(request)
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", self.svc.http_port, timeout=10)
                conn.request("POST", "/v1/traces", request.SerializeToString(),
                             {"Content-Type": "application/x-protobuf", "x-api-key": self.key})
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.getheader("Retry-After"):
                    self.retry_after.add(response.getheader("Retry-After"))
            except OSError:
                status = 0
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)  # the service is down; try again soon
            self.statuses[status] = self.statuses.get(status, 0) + 1
            (self.acked if status == 200 else self.unacked).update(ids)
            if status not in (0, 200):
                time.sleep(0.02)
        if conn is not None:
            conn.close()


def run_clients(svc, key, n):
    clients = [Client(svc, key) for _ in range(n)]
    for c in clients:
        c.start()
    return clients


def stop_clients(clients) -> tuple[set[str], set[str]]:
    for c in clients:
        c.stopping.set()
    for c in clients:
        c.join(30)
    acked = set().union(*(c.acked for c in clients))
    unacked = set().union(*(c.unacked for c in clients))
    return acked, unacked - acked


def stored_counts(data_dir) -> dict[str, int]:
    result = run_cli("sql", "SELECT SpanId, count() FROM otel_traces GROUP BY SpanId", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    return {span: int(n) for span, n in (line.split("\t") for line in result.stdout.splitlines())}


def checksum(ids) -> int:
    """What the engine's ``sum(reinterpretAsUInt64(unhex(SpanId)))`` gives for these ids."""
    return sum(int.from_bytes(bytes.fromhex(i), "little") for i in ids) % (1 << 64)


def stored_summary(data_dir) -> tuple[int, int]:
    sql = "SELECT count(), sum(reinterpretAsUInt64(unhex(SpanId))) FROM otel_traces"
    result = run_cli("sql", sql, data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    count, total = result.stdout.split()
    return int(count), int(total)


def assert_exactly_once(data_dir, acked: set[str], unacked: set[str]) -> dict[str, int]:
    counts = stored_counts(data_dir)
    twice = {s: n for s, n in counts.items() if n > 1}
    assert not twice, f"{len(twice)} spans stored more than once"
    missing = acked - counts.keys()
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged spans are missing"
    assert counts.keys() <= acked | unacked, "spans nobody sent"
    expected = acked | (unacked & counts.keys())  # the acknowledged, and whichever unacknowledged made it
    assert stored_summary(data_dir) == (len(expected), checksum(expected))
    return counts


def test_acknowledged_spans_survive_sigkill_exactly_once(tmp_path):
    crash_repeatedly(tmp_path, kills=3)


@pytest.mark.slow
def test_acknowledged_spans_survive_many_sigkills_exactly_once(tmp_path):
    crash_repeatedly(tmp_path, kills=15, clients=8)


def crash_repeatedly(tmp_path, kills: int, clients: int = 4) -> None:
    data = tmp_path / "data"
    key = create_key(data, "crash")
    svc = ServiceProcess(data, args=FAST_SEALING).start()
    clients = run_clients(svc, key, clients)
    rng = random.Random()
    try:
        for _ in range(kills):
            time.sleep(rng.uniform(1.0, 3.0))
            svc.kill()
            time.sleep(rng.uniform(0.0, 0.3))
            svc.start()
        time.sleep(1.0)
    finally:
        acked, unacked = stop_clients(clients)
        svc.kill()  # the last crash: what is in the log must be replayed by the next start
    assert len(acked) > 200, [c.statuses for c in clients]
    svc.start()
    assert svc.stop() == 0, svc.log()
    counts = assert_exactly_once(data, acked, unacked)
    print(f"acked {len(acked)} spans, unacked {len(unacked)}, of which stored {len(counts.keys() & unacked)}")


def readiness(svc) -> str:
    try:
        with urllib.request.urlopen(svc.api_url + "/readyz", timeout=5) as response:
            return response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.read().decode()


def test_a_store_outage_is_absorbed_within_the_budget_then_pushed_back_then_caught_up(tmp_path):
    data = tmp_path / "data"
    key = create_key(data, "outage")
    fault = tmp_path / "store-down"
    fault.touch()
    svc = ServiceProcess(data, env={"COLLECTOR_TEST_INSERT_FAULT_FILE": str(fault)}, args=FAST_SEALING + [
        "--wal-max-bytes", str(2 << 20), "--wal-segment-max-bytes", str(128 << 10),
        "--wal-inflight-max-bytes", str(1 << 20), "--max-body-bytes", str(512 << 10),
    ]).start()
    try:
        clients = run_clients(svc, key, 3)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(c.statuses.get(429) for c in clients):
            time.sleep(0.1)
        assert any(c.statuses.get(429) for c in clients), [c.statuses for c in clients]
        assert "not shedding load" in readiness(svc)
        accepted_during_outage = sum(len(c.acked) for c in clients)
        # ~1.3 kB a request of 5 spans: a 2 MiB budget holds well over 2,000 spans before pushing back
        assert accepted_during_outage > 2000, accepted_during_outage
        fault.unlink()  # the store is back: the log drains and requests are taken again
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum(len(c.acked) for c in clients) < accepted_during_outage + 500:
            time.sleep(0.1)
        acked, unacked = stop_clients(clients)
        assert len(acked) >= accepted_during_outage + 500, "requests are still refused after the store came back"
        assert any(c.retry_after for c in clients)
    finally:
        assert svc.stop() == 0, svc.log()
    assert_exactly_once(data, acked, unacked)
