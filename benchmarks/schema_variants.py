"""Bytes per span on disk for variants of the otel_traces DDL, on the same spans.

The spans are inserted once through the real landing path (schema/), then
copied into one scratch table per variant (the DDL of schema/001 with a change
applied), each merged to one part per partition; bytes on disk per row and the
seconds of copy + merge (a rough cost of the codec) are compared with the
baseline. Nothing here changes the project's schema: the figures are for
choosing a migration.

    python -m benchmarks.schema_variants --spans 300000
"""
from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

from benchmarks import common
from benchmarks.otlp_pool import Pool
from benchmarks.store_ceiling import build_segments, bytes_per_span, insert_segments, open_store
from collector import migrate
from collector.migrate import SCHEMA_DIR

DAY_NS = 86_400 * 10**9


def _base_ddl() -> str:
    """The single-node otel_traces DDL, rendered by the project's own migration code."""
    text = (SCHEMA_DIR / "001_otel_traces.sql").read_text()
    statements = migrate.render(text, migrate.template_variables())
    return next(st for st in statements if re.match(r"CREATE TABLE IF NOT EXISTS otel_traces\s", st)) + ";"


def _retype(ddl: str, column: str, new_type_and_codec: str) -> str:
    return re.sub(rf"(\n\s*{column}) [^\n]*?CODEC\([^\n]*\),", rf"\1 {new_type_and_codec},", ddl, count=1)


VARIANTS = {
    "baseline": lambda d: d,
    "zstd3": lambda d: d.replace("ZSTD(1)", "ZSTD(3)"),
    "time_codecs": lambda d: _retype(_retype(d, "Timestamp", "DateTime64(9) CODEC(DoubleDelta, ZSTD(1))"),
                                     "Duration", "UInt64 CODEC(T64, ZSTD(1))"),
    "attrs_zstd6": lambda d: _retype(_retype(d, "SpanAttributes", "Map(LowCardinality(String), String) CODEC(ZSTD(6))"),
                                     "ResourceAttributes", "Map(LowCardinality(String), String) CODEC(ZSTD(6))"),
    "big_blocks": lambda d: d.replace("SETTINGS index_granularity = 8192,",
                                      "SETTINGS index_granularity = 8192, min_compress_block_size = 1048576, "
                                      "max_compress_block_size = 4194304,"),
    "order_service_route": lambda d: d.replace(
        "ORDER BY (AppId, toDateTime(Timestamp), ServiceName)",
        "ORDER BY (AppId, toStartOfHour(Timestamp), ServiceName, HttpRoute, Timestamp)"),
}
for _level in (3, 9):
    VARIANTS[f"attrs_zstd{_level}"] = (lambda level: lambda d: VARIANTS["attrs_zstd6"](d).replace("ZSTD(6)", f"ZSTD({level})"))(_level)
# The HTTP columns the map already holds, computed when read instead of stored twice.
VARIANTS["alias_http_copies"] = lambda d: _retype(_retype(_retype(
    d, "HttpTarget", "String ALIAS otlp_first(SpanAttributes, ['url.path', 'http.target'])"),
    "ClientIp", "String ALIAS otlp_first(SpanAttributes, ['http.client_ip', 'client.address', 'net.peer.ip', "
                "'network.peer.address', 'net.sock.peer.addr'])"),
    "UserAgent", "String ALIAS otlp_first(SpanAttributes, ['user_agent.original', 'http.user_agent'])")
# The OpenTelemetry Collector ClickHouse exporter's default table, as a reference: its
# columns (none of this product's HTTP ones), its sort key and its skip indexes.
VARIANTS["exporter_default"] = lambda d: re.sub(
    r"\n\s*(AppId|HttpMethod|HttpRoute|HttpTarget|HttpStatusCode|ClientIp|UserAgent) [^\n]*,", "", d).replace(
    "INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1",
    "INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,\n"
    "    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,\n"
    "    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,\n"
    "    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,\n"
    "    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,\n"
    "    INDEX idx_duration Duration TYPE minmax GRANULARITY 1").replace(
    "ORDER BY (AppId, toDateTime(Timestamp), ServiceName)", "ORDER BY (ServiceName, SpanName, toDateTime(Timestamp))")
VARIANTS["combined"] = lambda d: VARIANTS["order_service_route"](VARIANTS["attrs_zstd6"](
    VARIANTS["zstd3"](VARIANTS["time_codecs"](d))))
VARIANTS["combined_alias"] = lambda d: VARIANTS["alias_http_copies"](VARIANTS["combined"](d))


def run(spans: int, data_dir: Path, names: list[str] | None = None) -> dict:
    store = open_store(data_dir)
    try:
        # The density of the 10M-span dataset: spans spread over a day in time order.
        spacing = DAY_NS // 10_000_000
        pool = Pool("protobuf", templates=max(1, min(300, spans // 1000)), start_ns=time.time_ns() - DAY_NS, spacing_ns=spacing)
        insert_segments(store, build_segments(pool, spans, 32 << 20, ["app-1", "app-2"], lambda i: i * 1000 * spacing))
        base = _base_ddl()
        figures = {}
        for name, change in VARIANTS.items():
            if names and name not in names:
                continue
            ddl = change(base).replace("otel_traces", f"v_{name}", 1)
            store.command(f"DROP TABLE IF EXISTS v_{name}")
            store.command(ddl)
            t0 = time.perf_counter()
            stored = ", ".join(f"`{c}`" for (c,) in store.rows(
                "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
                "AND default_kind != 'ALIAS' ORDER BY position", {"t": f"v_{name}"}))
            store.command(f"INSERT INTO v_{name} ({stored}) SELECT {stored} FROM otel_traces")
            disk = bytes_per_span(store, f"v_{name}")
            figures[name] = {"bytes_per_span": disk["bytes_per_span"], "copy_and_merge_s": round(time.perf_counter() - t0, 2),
                             "top_columns": dict(list(disk["columns"].items())[:6])}
            print(f"  {name:22s} {disk['bytes_per_span']:7.2f} B/span  {figures[name]['copy_and_merge_s']:6.2f} s", flush=True)
        return figures
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=300_000)
    parser.add_argument("--variants", default="", help=f"comma-separated, of: {', '.join(VARIANTS)} (default all)")
    common.add_results_argument(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-variants-") as tmp:
        figures = run(args.spans, Path(tmp), [v for v in args.variants.split(",") if v])
    common.record("schema_variants", figures, {"spans": args.spans, "variants": args.variants or "all"}, args.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
