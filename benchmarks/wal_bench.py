"""Group commit of the write-ahead log: appends/s and time per append by concurrency.

Each of N concurrent clients appends records of one OTLP request (``--spans``
Express-like spans) back to back for ``--seconds``; every append returns only
after the fsync covering it. Prints appends/s, spans/s, mean latency of one
append, and appends per fsync. Run: ``python benchmarks/wal_bench.py [--dir D]``.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere: tests.otlp_factory

from collector import metrics  # noqa: E402
from collector.wal import Wal, WalLimits  # noqa: E402
from collector.walformat import Record  # noqa: E402
from tests.otlp_factory import make_request  # noqa: E402


def fsyncs() -> float:
    return metrics.REGISTRY.get_sample_value("collector_wal_fsync_seconds_count") or 0.0


async def client(w: Wal, body: bytes, spans: int, until: float, latencies: list[float]) -> int:
    done = 0
    while time.perf_counter() < until:
        started = time.perf_counter()
        await w.append(Record("protobuf", "bench", time.time_ns(), spans, body))
        latencies.append(time.perf_counter() - started)
        done += 1
    return done


async def run(directory: Path, concurrency: int, seconds: float, body: bytes, spans: int) -> str:
    w = Wal(directory, WalLimits(max_bytes=8 << 30, segment_max_bytes=64 << 20, segment_max_age=3600))
    await w.open()
    latencies: list[float] = []
    syncs = fsyncs()
    started = time.perf_counter()
    counts = await asyncio.gather(*(client(w, body, spans, started + seconds, latencies) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await w.close()
    appends = sum(counts)
    syncs = fsyncs() - syncs
    return (f"{concurrency:>5} {appends / elapsed:>10.0f} {appends * spans / elapsed:>10.0f} "
            f"{1e6 * sum(latencies) / len(latencies):>10.0f} {1e6 * elapsed / appends:>10.1f} {appends / max(syncs, 1):>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", help="where to put the log (default: a temporary directory here)")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--spans", type=int, default=10)
    parser.add_argument("--concurrency", default="1,4,16,64,256")
    args = parser.parse_args()
    body = make_request(args.spans).SerializeToString()
    print(f"record body {len(body)} bytes ({args.spans} spans)")
    print(f"{'conc':>5} {'appends/s':>10} {'spans/s':>10} {'lat_us':>10} {'us/append':>10} {'per_fsync':>8}")
    for concurrency in map(int, args.concurrency.split(",")):
        with tempfile.TemporaryDirectory(dir=args.dir or ".", prefix="walbench-") as tmp:
            print(asyncio.run(run(Path(tmp), concurrency, args.seconds, body, args.spans)), flush=True)


if __name__ == "__main__":
    main()
