"""End-to-end ingest: the real service on the embedded store, loaded by ``loadgen``.

One run measures, in this order and on the same machine minutes apart:

- ``ceiling``: the store alone (``store_ceiling`` in its own process) inserting
  the same requests in inserts of the writer's size;
- ``transports``: each transport/encoding at full speed for ``--duration`` s;
  spans acknowledged per second, then the time until the write-ahead log is
  empty (stored per second = acknowledged spans / time until drained), the
  service's CPU per span (whole process; its main thread alone; the store-alone
  CPU per span of the ceiling subtracted), verified at the end by counting the
  stored rows of each phase's application;
- ``sweep``: fixed offered rates from 25% to 150% of the stored-per-second
  maximum of HTTP/protobuf: acknowledged spans/s and p50/p99 acknowledgement
  latency (the 50% and 90% points are figure 3);
- ``overload``: 3x that maximum for ``--overload-seconds`` on a fresh service,
  sampling its RSS: the peak, and what the clients were told.

    python -m benchmarks.ingest --phases ceiling,transports,sweep --duration 10
    python -m benchmarks.ingest --phases ceiling,overload --overload-seconds 60
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks import common
from collector import admin
from collector.config import Config
from tests.harness import ServiceProcess

TRANSPORTS = {
    "http-protobuf": ["--transport", "http", "--encoding", "protobuf"],
    "http-json": ["--transport", "http", "--encoding", "json"],
    "grpc": ["--transport", "grpc"],
    "http-protobuf-gzip": ["--transport", "http", "--encoding", "protobuf", "--gzip"],
    "http-json-gzip": ["--transport", "http", "--encoding", "json", "--gzip"],
    "grpc-gzip": ["--transport", "grpc", "--gzip"],
}
INSERT_ENV = "COLLECTOR_WRITER_INSERT_MAX_BYTES"
SWEEP = (0.25, 0.5, 0.75, 0.9, 1.0, 1.25, 1.5)


def run_json(args: list[str], timeout: float) -> dict:
    """A benchmark module in its own process; its printed record's figures."""
    out = subprocess.run([sys.executable, "-m", *args, "--no-results"], cwd=common.ROOT, capture_output=True,
                         text=True, timeout=timeout)
    if out.returncode not in (0, 1):
        raise RuntimeError(f"{args[0]} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout[out.stdout.index("{"):])["figures"]


class Bench:
    """A running service plus the keys of its phases."""

    extra_args: list[str] = []  # service settings under test (--service-args)

    def __init__(self, data_dir: Path, connections: int, env: dict[str, str] | None = None, spans: int = 0):
        self.svc = ServiceProcess(data_dir, env=env, args=["--log-level", "warning", *self.extra_args])
        self.spans = spans  # per load: a fixed count (the ceiling's), or 0 for as many as --duration allows
        self.connections = connections
        self.keys: dict[str, str] = {}

    def start(self) -> "Bench":
        self.svc.start()
        return self

    def key(self, app: str) -> str:
        if app not in self.keys:
            answer = admin.call(admin.socket_path(str(self.svc.data_dir)), "create", {"app": app, "name": "bench", "key": ""})
            self.keys[app] = answer["key"]
        return self.keys[app]

    def wal_bytes(self) -> int:
        return sum(p.stat().st_size for p in (self.svc.data_dir / "wal").glob("*.seg") if p.exists())

    def wait_drained(self, timeout: float = 120.0) -> float:
        """Seconds until the log holds (almost) nothing: every acknowledged span was inserted."""
        started = time.perf_counter()
        quiet = 0
        while time.perf_counter() - started < timeout:
            quiet = quiet + 1 if self.wal_bytes() < 64 << 10 else 0
            if quiet >= 2:
                return time.perf_counter() - started
            time.sleep(0.1)
        raise RuntimeError(f"write-ahead log still holds {self.wal_bytes()} bytes after {timeout} s")

    def load(self, app: str, transport: str, duration: float, rate: float = 0.0, drain: bool = True) -> dict:
        """One loadgen run against this service, with the service's CPU over it and its drain."""
        pid = self.svc.proc.pid
        url = f"127.0.0.1:{self.svc.grpc_port}" if transport.startswith("grpc") else self.svc.otlp_http_url
        args = ["benchmarks.loadgen", "--url", url, "--key", self.key(app), *TRANSPORTS[transport],
                "--duration", str(duration), "--connections", str(self.connections)]
        if rate:
            args += ["--rate", str(round(rate))]
        if self.spans:
            args += ["--max-requests", str(max(1, self.spans // 1000))]
        threads0 = common.thread_cpu_seconds(pid)
        anon = _AnonSampler(pid)
        cpu0, main0, started = common.process_cpu_seconds(pid), _main_thread_cpu(pid), time.perf_counter()
        figures = run_json(args, duration + 60)
        drain = self.wait_drained() if drain else 0.0
        elapsed = time.perf_counter() - started
        cpu, main = common.process_cpu_seconds(pid) - cpu0, _main_thread_cpu(pid) - main0
        # The merges the inserts caused go on after the log is empty; the ceiling pays for its own.
        settle = wait_cpu_quiet(pid) if drain else 0.0
        settled_cpu = common.process_cpu_seconds(pid) - cpu0
        anon.stop()
        spans = max(figures["acked_spans"], 1)
        figures.update(app=app, transport=transport, drain_s=round(drain, 2), settle_s=round(settle, 2),
                       settled_cpu_us_per_span=round(settled_cpu / spans * 1e6, 2),
                       peak_rss_mib=round(common.peak_rss_bytes(pid) / (1 << 20), 1),
                       max_sampled_anon_rss_mib=round(anon.peak / (1 << 20), 1),
                       stored_spans_per_s=round(figures["acked_spans"] / elapsed),
                       service_cpu_us_per_span=round(cpu / spans * 1e6, 2),
                       main_thread_cpu_us_per_span=round(main / spans * 1e6, 2),
                       service_cores=round(cpu / elapsed, 2),
                       cpu_us_per_span_by_thread=common.thread_cpu_delta(threads0, common.thread_cpu_seconds(pid), spans))
        return figures

    def stop_and_count(self) -> dict[str, int]:
        """Stop the service (it drains) and count the stored spans of each application."""
        self.svc.stop()
        from benchmarks.store_ceiling import open_store

        store = open_store(self.svc.data_dir)
        try:
            return dict(store.rows("SELECT AppId, count() FROM otel_traces GROUP BY AppId"))
        finally:
            store.close()


class _AnonSampler:
    """The largest anonymous RSS of a process (its heap: the engine's library pages left out), every 0.2 s."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._done = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, common.rss_bytes(self.pid, "RssAnon"))
            time.sleep(0.2)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def wait_cpu_quiet(pid: int, timeout: float = 90.0, idle_cores: float = 0.1) -> float:
    """Seconds until the process uses under ``idle_cores`` for two 0.5 s windows in a row (its merges are done)."""
    started, quiet, before = time.perf_counter(), 0, common.process_cpu_seconds(pid)
    while quiet < 2 and time.perf_counter() - started < timeout:
        time.sleep(0.5)
        now = common.process_cpu_seconds(pid)
        quiet = quiet + 1 if now - before < idle_cores * 0.5 else 0
        before = now
    return time.perf_counter() - started


def _main_thread_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / common.CLK_TCK


def verify(phases: list[dict], counts: dict[str, int]) -> None:
    for phase in phases:
        phase["stored_spans"] = counts.get(phase["app"], 0)
        phase["stored_matches_acked"] = phase["stored_spans"] == phase["acked_spans"]


def transports_phase(tmp: Path, names: list[str], duration: float, connections: int, ceiling: dict,
                     env: dict[str, str] | None = None, spans: int = 0) -> dict:
    bench = Bench(tmp / f"svc-transports-{len(list(tmp.iterdir()))}", connections, env, spans).start()
    phases = []
    try:
        for name in names:
            phase = bench.load(f"bench-{name}", name, duration)
            phase["receiver_cpu_us_per_span"] = round(phase["service_cpu_us_per_span"] - ceiling["cpu_us_per_span"], 2)
            phase["vs_ceiling"] = round(phase["stored_spans_per_s"] / ceiling["spans_per_s"], 3)
            if "settled_cpu_us_per_span" in ceiling:
                phase["settled_cpu_vs_ceiling"] = round(phase["settled_cpu_us_per_span"] / ceiling["settled_cpu_us_per_span"], 2)
            phases.append(phase)
            _say(f"{name:20s} acked {phase['acked_spans_per_s']:>8,}/s stored {phase['stored_spans_per_s']:>8,}/s "
                 f"({phase['vs_ceiling']:.0%} of ceiling) cpu {phase['service_cpu_us_per_span']} us/span "
                 f"(main thread {phase['main_thread_cpu_us_per_span']}; settled {phase['settled_cpu_us_per_span']}, "
                 f"{phase.get('settled_cpu_vs_ceiling')}x the ceiling's) p99 {phase['p99_ms']} ms errors {phase['errors']}")
    finally:
        verify(phases, bench.stop_and_count())
    return {p["transport"]: p for p in phases}


def sweep_phase(tmp: Path, duration: float, connections: int, maximum: float, shares=SWEEP) -> list[dict]:
    bench = Bench(tmp / "svc-sweep", connections).start()
    points = []
    try:
        for share in shares:
            point = bench.load(f"bench-sweep-{int(share * 100)}", "http-protobuf", duration, rate=share * maximum)
            point["share_of_max"] = share
            points.append(point)
            _say(f"offered {share:4.0%} ({share * maximum:>8,.0f}/s): acked {point['acked_spans_per_s']:>8,}/s "
                 f"p50 {point['p50_ms']} ms p99 {point['p99_ms']} ms errors {point['errors']} skipped {point['skipped']}")
    finally:
        verify(points, bench.stop_and_count())
    return points


def overload_phase(tmp: Path, seconds: float, connections: int, maximum: float) -> dict:
    bench = Bench(tmp / "svc-overload", connections * 4).start()
    samples: list[int] = []
    anon: list[int] = []
    idle_rss = common.rss_bytes(bench.svc.proc.pid)
    done = threading.Event()

    def sample():
        while not done.is_set():
            samples.append(common.rss_bytes(bench.svc.proc.pid))
            anon.append(common.rss_bytes(bench.svc.proc.pid, "RssAnon"))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        # Not drained: at 3x the log fills to its budget, which takes minutes to empty.
        result = bench.load("bench-overload", "http-protobuf", seconds, rate=3 * maximum, drain=False)
        result["left_in_log_mib"] = round(bench.wal_bytes() / (1 << 20), 1)
    finally:
        done.set()
        sampler.join()
        peak = common.peak_rss_bytes(bench.svc.proc.pid)
        verify([result] if "result" in locals() else [], bench.stop_and_count())
    result.update(offered_spans_per_s=round(3 * maximum), peak_rss_mib=round(peak / (1 << 20), 1),
                  max_sampled_rss_mib=round(max(samples) / (1 << 20), 1),
                  max_sampled_anon_rss_mib=round(max(anon) / (1 << 20), 1), idle_rss_mib=round(idle_rss / (1 << 20), 1))
    _say(f"overload 3x ({3 * maximum:,.0f}/s) for {seconds} s: peak RSS {result['peak_rss_mib']} MiB "
         f"(anonymous {result['max_sampled_anon_rss_mib']} MiB, idle {result['idle_rss_mib']} MiB), "
         f"acked {result['acked_spans_per_s']:,}/s, errors {result['errors']}")
    return result


def parse_variants(text: str) -> list[tuple[str, dict[str, str]]]:
    variants = []
    for item in filter(None, (part.strip() for part in text.split(";"))):
        name, _, assignments = item.partition(":")
        env = dict(a.split("=", 1) for a in assignments.split(",") if a)
        variants.append((name, env))
    return variants or [("default", {})]


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phases", default="ceiling,transports,sweep", help="ceiling,transports,sweep,overload")
    parser.add_argument("--transports", default="http-protobuf,http-json,grpc,http-protobuf-gzip")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per transport / sweep point")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--ceiling-spans", type=int, default=300_000)
    parser.add_argument("--ceiling-segment-mib", type=float, default=0,
                        help="the ceiling's insert size (default: the service's writer_insert_max_bytes)")
    parser.add_argument("--spans", type=int, default=0,
                        help="spans per end-to-end load, and the ceiling's (default: as many as --duration allows)")
    parser.add_argument("--variants", default="",
                        help="service settings compared in one run, each with its own ceiling and fresh service: "
                             "'NAME:COLLECTOR_X=V,COLLECTOR_Y=W;NAME2:...' (default: the defaults)")
    parser.add_argument("--max-rate", type=float, default=0.0, help="spans/s taken as the maximum (default: measured)")
    parser.add_argument("--sweep", default=",".join(map(str, SWEEP)), help="offered rates, as shares of the maximum")
    parser.add_argument("--service-args", default="", help="extra collector serve flags, e.g. '--writer-insert-max-bytes 33554432'")
    parser.add_argument("--overload-seconds", type=float, default=60.0)
    common.add_results_argument(parser)
    args = parser.parse_args(argv)
    phases = set(args.phases.split(","))
    variants = parse_variants(args.variants)
    Bench.extra_args = args.service_args.split()
    figures: dict = {}
    maximum = args.max_rate
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        for name, env in variants:
            insert_mib = (int(env[INSERT_ENV]) / (1 << 20) if INSERT_ENV in env
                          else args.ceiling_segment_mib or Config.writer_insert_max_bytes / (1 << 20))
            key = "" if name == "default" else f"{name}:"
            if "ceiling" in phases or "transports" in phases:
                # The same spans as the end-to-end load (when --spans is given), in inserts of the writer's size.
                ceiling = run_json(["benchmarks.store_ceiling", "--spans", str(args.spans or args.ceiling_spans),
                                    "--segment-mib", str(insert_mib)], 300)
                figures[key + "ceiling"] = ceiling
                _say(f"{name}: store alone, {insert_mib:g} MiB inserts: {ceiling['spans_per_s']:,} spans/s, "
                     f"{ceiling['cpu_us_per_span']} us/span ({ceiling['settled_cpu_us_per_span']} until merges settled, "
                     f"{ceiling['settle_s']} s later)")
            if "transports" in phases:
                result = transports_phase(Path(tmp), args.transports.split(","), args.duration, args.connections,
                                          ceiling, env, args.spans)
                figures[key + "transports"] = result
                maximum = maximum or result.get("http-protobuf", {}).get("stored_spans_per_s", 0)
        if not maximum and ({"sweep", "overload"} & phases):
            parser.error("--max-rate is needed without the transports phase (or with http-protobuf left out)")
        figures["max_spans_per_s"] = maximum
        if "sweep" in phases:
            shares = [float(x) for x in args.sweep.split(",")]
            figures["sweep"] = sweep_phase(Path(tmp), args.duration, args.connections, maximum, shares)
        if "overload" in phases:
            figures["overload"] = overload_phase(Path(tmp), args.overload_seconds, args.connections, maximum)
    config = {k: v for k, v in vars(args).items() if k != "results"}
    common.record("ingest", figures, config, args.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
