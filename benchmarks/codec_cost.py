"""Insert CPU and bytes per span of column codecs for otel_traces, alternated.

Each run is its own process on a fresh store (chDB allows one store path per
process): the project's schema is migrated from a copy of schema/ whose 001 has
the variant's codecs written into the CREATE TABLE (as a release would ship
them), the same kind of spans as schema_variants (spread in time like the 10M
dataset) are inserted through the landing table as the writer does (process
CPU timed, the engine's threads included), then merged (CPU timed too) and
bytes per span measured. Variants
run in turn, each round in a rotated order, so a busy moment of the shared
machine does not land on one variant only; medians are reported.

    python -m benchmarks.codec_cost --spans 300000 --rounds 3
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import common

ATTRS = ("SpanAttributes", "ResourceAttributes")
MAP = "Map(LowCardinality(String), String)"
# Plain columns with a measurable share of the bytes (system.parts_columns split).
PLAIN = {"TraceId": "String", "SpanId": "String", "ParentSpanId": "String", "HttpTarget": "String",
         "ClientIp": "String", "UserAgent": "String", "Duration": "UInt64", "StatusMessage": "String"}


def _attrs(level: int) -> list[tuple[str, str]]:
    return [(c, f"{MAP} CODEC(ZSTD({level}))") for c in ATTRS]


def _plain(level: int) -> list[tuple[str, str]]:
    return [(c, f"{t} CODEC(ZSTD({level}))") for c, t in PLAIN.items()] + [
        ("Timestamp", f"DateTime64(9) CODEC(Delta, ZSTD({level}))")]


VARIANTS = {
    "baseline": [],
    "attrs_zstd3": _attrs(3),
    "attrs_zstd6": _attrs(6),
    "attrs6_rest3": _attrs(6) + _plain(3),
    # Resource attributes repeat for every span of a request: a level with a longer
    # match search finds those repeats (measured: 7.3 -> under 0.5 bytes/span).
    "resource_zstd6": [("ResourceAttributes", f"{MAP} CODEC(ZSTD(6))")],
    "resource6_http3": [("ResourceAttributes", f"{MAP} CODEC(ZSTD(6))")] + [
        (c, "String CODEC(ZSTD(3))") for c in ("HttpTarget", "ClientIp", "UserAgent")],
}


def one(name: str, spans: int) -> dict:
    """Child process: one variant on a fresh store."""
    from benchmarks.otlp_pool import Pool
    from benchmarks.schema_variants import DAY_NS
    from benchmarks.schema_variants import _retype
    from benchmarks.store_ceiling import build_segments, bytes_per_span, insert_segments
    from collector import migrate
    from collector.store import Store

    with tempfile.TemporaryDirectory(prefix="bench-codec-") as tmp:
        schema = Path(tmp) / "schema"
        shutil.copytree(migrate.SCHEMA_DIR, schema)
        first = schema / "001_otel_traces.sql"
        text = first.read_text()
        for column, type_codec in VARIANTS[name]:
            text = _retype(text, column, type_codec)
        first.write_text(text)
        store = Store("chdb://" + str(Path(tmp) / "clickhouse")).open()
        try:
            migrate.migrate(store, "", 30, schema_dir=schema)
            spacing = DAY_NS // 10_000_000
            pool = Pool("protobuf", templates=max(1, min(300, spans // 1000)), start_ns=time.time_ns() - DAY_NS,
                        spacing_ns=spacing)
            insert_segments(store, build_segments(pool, pool.spans, 1 << 20, ["warm-up"]), "warm-up")
            segments = build_segments(pool, spans, 8 << 20, ["app-1", "app-2"], lambda i: i * 1000 * spacing)
            total = sum(n for _, n in segments)
            cpu0 = time.process_time()
            seconds = insert_segments(store, segments)
            insert_cpu = time.process_time() - cpu0
            cpu1 = time.process_time()
            disk = bytes_per_span(store)
            merge_cpu = time.process_time() - cpu1
            return {"variant": name, "spans": total, "insert_s": round(seconds, 2),
                    "insert_cpu_us_per_span": round(insert_cpu / total * 1e6, 2),
                    "merge_cpu_us_per_span": round(merge_cpu / total * 1e6, 2),
                    "bytes_per_span": disk["bytes_per_span"], "columns": dict(list(disk["columns"].items())[:10])}
        finally:
            store.close()


def alternate(names: list[str], spans: int, rounds: int) -> dict:
    runs = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            load = os.getloadavg()[0]
            out = subprocess.run([sys.executable, "-m", "benchmarks.codec_cost", "--one", name, "--spans", str(spans)],
                                 capture_output=True, text=True, check=True, cwd=common.ROOT).stdout
            result = json.loads(out.strip().splitlines()[-1]) | {"load1": round(load, 2)}
            runs[name].append(result)
            print(f"  round {r + 1} {name:14s} insert {result['insert_cpu_us_per_span']:6.1f} µs/span CPU  "
                  f"merge {result['merge_cpu_us_per_span']:5.1f}  {result['bytes_per_span']:6.2f} B/span  "
                  f"load {load:.1f}", flush=True)
    summary = {}
    for name, rs in runs.items():
        summary[name] = {k: statistics.median(r[k] for r in rs)
                         for k in ("insert_cpu_us_per_span", "merge_cpu_us_per_span", "bytes_per_span")}
        summary[name]["runs"] = rs
    base = summary[names[0]]
    for name in names:
        s = summary[name]
        print(f"{name:14s} median insert CPU {s['insert_cpu_us_per_span']:6.1f} µs/span "
              f"({s['insert_cpu_us_per_span'] / base['insert_cpu_us_per_span'] - 1:+.1%})  "
              f"bytes {s['bytes_per_span']:6.2f} ({s['bytes_per_span'] / base['bytes_per_span'] - 1:+.1%})", flush=True)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, first is the reference: {', '.join(VARIANTS)}")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    common.add_results_argument(parser)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.spans)))
        return 0
    names = [v for v in args.variants.split(",") if v]
    summary = alternate(names, args.spans, args.rounds)
    common.record("codec_cost", summary, {"spans": args.spans, "rounds": args.rounds, "variants": names}, args.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
