"""The store alone: how fast the embedded engine takes the collector's landing inserts.

Segments of 1,000-span protobuf requests (as the write-ahead log would hold them,
each record the request's bytes plus app id and receive time) are built first,
then inserted one after another into ``otlp_landing`` through ``collector.store``
exactly as the pipeline's writer does; only the inserts are timed. This is the
ceiling the end-to-end figure is compared with.

    python -m benchmarks.store_ceiling --spans 500000 --segment-mib 32 [--bytes-per-span]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks import common
from benchmarks.otlp_pool import Pool
from collector import landing, migrate
from collector.store import Store


def open_store(data_dir: Path, database: str = "") -> Store:
    url = "chdb://" + str((data_dir / "clickhouse").resolve())
    if database:
        url += f"?database={database}"
    store = Store(url).open()
    migrate.migrate(store, "", 30)
    return store


def build_segments(pool: Pool, spans: int, segment_bytes: int, apps: list[str], shift_ns=None) -> list[tuple[bytes, int]]:
    """(records, span count) per insert; ``shift_ns(i)`` moves request i in time.

    Cut as the writer cuts its chunks: request bodies adding up to at most ``segment_bytes``.
    """
    segments, records, size, count, received = [], [], 0, 0, time.time_ns()
    for i in range(spans // pool.spans):
        template = pool.templates[i % len(pool.templates)]
        body = template.copy(shift_ns(i) if shift_ns else 0, durations=True)
        if records and size + len(body) > segment_bytes:
            segments.append((b"".join(records), count))
            records, size, count = [], 0, 0
        records.append(landing.encode_record(body, apps[i % len(apps)], received))
        size += len(body)
        count += pool.spans
    if records:
        segments.append((b"".join(records), count))
    return segments


def insert_segments(store: Store, segments: list[tuple[bytes, int]], token_prefix: str = "seg") -> float:
    """Seconds to insert every segment, one after another, as the writer does."""
    started = time.perf_counter()
    for n, (body, _) in enumerate(segments):
        store.raw_insert(landing.LANDING_TABLE, body, "Protobuf", landing.insert_settings(f"{token_prefix}-{n}"))
    return time.perf_counter() - started


def wait_merges_settled(store: Store, timeout: float = 120.0) -> float:
    """Seconds until no merge runs (twice in a row, 0.2 s apart): the inserts' merge work is paid."""
    started, quiet = time.perf_counter(), 0
    while quiet < 2 and time.perf_counter() - started < timeout:
        running = store.rows("SELECT count() FROM system.merges WHERE database = currentDatabase()")[0][0]
        quiet = 0 if running else quiet + 1
        time.sleep(0.2)
    return time.perf_counter() - started


def bytes_per_span(store: Store, table: str = "otel_traces") -> dict:
    """Bytes on disk per row of ``table`` after merging it to one part per partition."""
    # A partition already merged to one part is left as it is (a re-run on a kept dataset).
    store.command(f"OPTIMIZE TABLE {table} FINAL", settings={"optimize_skip_merged_partitions": 1})
    rows, on_disk, uncompressed = store.rows(
        "SELECT sum(rows), sum(bytes_on_disk), sum(data_uncompressed_bytes) FROM system.parts "
        "WHERE database = currentDatabase() AND table = {t:String} AND active", {"t": table})[0]
    columns = store.rows(
        "SELECT column, sum(column_data_compressed_bytes) AS b FROM system.parts_columns "
        "WHERE database = currentDatabase() AND table = {t:String} AND active GROUP BY column ORDER BY b DESC", {"t": table})
    per_column = {name: round(size / rows, 2) for name, size in columns if rows}
    return {"rows": rows, "bytes_per_span": round(on_disk / rows, 2) if rows else None,
            "uncompressed_per_span": round(uncompressed / rows, 1) if rows else None, "columns": per_column}


def run(spans: int, segment_mib: float, data_dir: Path, measure_bytes: bool, templates: int = 16) -> dict:
    pool = Pool("protobuf", templates=templates)
    store = open_store(data_dir)
    try:
        # A first small insert, not timed, so the figures leave out the engine's start-up.
        insert_segments(store, build_segments(pool, pool.spans, 1 << 20, ["warm-up"]), "warm-up")
        segments = build_segments(pool, spans, int(segment_mib * (1 << 20)), ["bench"])
        total = sum(n for _, n in segments)
        cpu0, threads0 = time.process_time(), common.thread_cpu_seconds(os.getpid())
        seconds = insert_segments(store, segments)
        cpu = time.process_time() - cpu0  # every thread of this process: the engine's included
        # The end-to-end run pays for the merges its inserts cause (they run while it drains, and after):
        # so does this one, in the settled figures.
        settle = wait_merges_settled(store)
        settled_cpu = time.process_time() - cpu0
        threads = common.thread_cpu_delta(threads0, common.thread_cpu_seconds(os.getpid()), total)
        parts = store.rows("SELECT count() FROM system.parts WHERE database = currentDatabase() AND active")[0][0]
        stored = store.rows("SELECT count() FROM otel_traces WHERE AppId = 'bench'")[0][0]
        figures = {
            "spans": total, "stored": stored, "seconds": round(seconds, 3), "spans_per_s": round(total / seconds),
            "cpu_us_per_span": round(cpu / total * 1e6, 2), "cpu_us_per_span_by_thread": threads,
            "settle_s": round(settle, 2), "settled_cpu_us_per_span": round(settled_cpu / total * 1e6, 2),
            "active_parts": parts,
            "segments": len(segments), "segment_mib": round(len(segments[0][0]) / (1 << 20), 1),
            "protobuf_bytes_per_span": round(len(pool.templates[0].body) / pool.spans, 1),
        }
        if measure_bytes:
            figures["disk"] = bytes_per_span(store)
        return figures
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=500_000)
    parser.add_argument("--segment-mib", type=float, default=32, help="bytes of requests per insert, as the writer's writer_insert_max_bytes")
    parser.add_argument("--templates", type=int, default=16, help="distinct requests to vary ids and times of")
    parser.add_argument("--data-dir", type=Path, help="store directory (default: a fresh temporary one)")
    parser.add_argument("--bytes-per-span", action="store_true", help="also merge and measure bytes per span on disk")
    common.add_results_argument(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-ceiling-") as tmp:
        figures = run(args.spans, args.segment_mib, args.data_dir or Path(tmp), args.bytes_per_span, args.templates)
    config = {"spans": args.spans, "segment_mib": args.segment_mib, "templates": args.templates}
    common.record("store_ceiling", figures, config, args.results)
    return 0 if figures["stored"] == figures["spans"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
