"""Shipping rate of the writer: sealed segments to the embedded store, spans/s.

Fills a write-ahead log with ``--requests`` requests of ``--spans`` spans, then
times the writer shipping every segment (one insert per chunk of at most
``--insert-mb`` MiB) into a fresh embedded store. Prints inserts, seconds per
insert and spans/s. Run: ``python benchmarks/writer_bench.py``.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere: tests.otlp_factory

from collector import metrics, migrate  # noqa: E402
from collector.store import Store  # noqa: E402
from collector.wal import Wal, WalLimits  # noqa: E402
from collector.walformat import Record  # noqa: E402
from collector.writer import Writer, WriterLimits  # noqa: E402
from tests.otlp_factory import make_request  # noqa: E402


async def fill(w: Wal, requests: int, spans: int) -> None:
    bodies = [make_request(spans).SerializeToString() for _ in range(64)]
    for start in range(0, requests, 256):
        await asyncio.gather(*(
            w.append(Record("protobuf", "bench", time.time_ns(), spans, bodies[i % 64]))
            for i in range(start, min(start + 256, requests))
        ))


async def main(args) -> None:
    with tempfile.TemporaryDirectory(prefix="writerbench-") as tmp:
        store = Store(f"chdb://{tmp}/clickhouse").open()
        migrate.migrate(store)
        w = Wal(Path(tmp) / "wal", WalLimits(max_bytes=8 << 30, segment_max_bytes=args.segment_mb << 20, segment_max_age=3600))
        await w.open()
        await fill(w, args.requests, args.spans)
        await w.stop_appending()
        writer = Writer(w, store, Path(tmp) / "dead", WriterLimits(insert_max_bytes=args.insert_mb << 20))
        inserts = metrics.REGISTRY.get_sample_value("collector_clickhouse_insert_seconds_count") or 0
        started = time.perf_counter()
        while w.has_sealed():
            segment = await w.next_sealed()
            await writer.ship(segment)
            await w.release(segment)
        elapsed = time.perf_counter() - started
        inserts = (metrics.REGISTRY.get_sample_value("collector_clickhouse_insert_seconds_count") or 0) - inserts
        total = args.requests * args.spans
        stored = store.rows("SELECT count() FROM otel_traces")[0][0]
        print(f"{total} spans in {inserts:.0f} inserts of <= {args.insert_mb} MiB: {elapsed:.2f} s, "
              f"{elapsed / inserts * 1000:.0f} ms/insert, {total / elapsed:,.0f} spans/s (stored {stored})")
        await w.close()
        store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--spans", type=int, default=50)
    parser.add_argument("--segment-mb", type=int, default=8)
    parser.add_argument("--insert-mb", type=int, default=8)
    asyncio.run(main(parser.parse_args()))
