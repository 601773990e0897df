"""Run the cluster schema on one embedded engine that believes it is a one-shard cluster.

Run as a script (the embedded engine allows one database path per process): the
engine gets a ``remote_servers`` config naming cluster ``prod`` with this very
engine as its only shard, so Distributed tables, their sharding keys and the
views behind them really run. What needs ClickHouse Keeper cannot run here:
``ON CLUSTER`` is removed and ``Replicated*MergeTree`` becomes ``*MergeTree``;
everything else is the DDL ``collector migrate --cluster prod`` sends. Prints one
JSON object of what it found.
"""
from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import clickhouse_connect

from collector import landing, migrate
from collector.store import Store
from tests.otlp_factory import make_request

CONFIG = """<clickhouse>
  <tcp_port>9000</tcp_port>
  <remote_servers><prod><shard><replica><host>localhost</host><port>9000</port></replica></shard></prod></remote_servers>
</clickhouse>
"""


class OneShardCluster(Store):
    """The project's Store, with what only a Keeper-backed cluster can do taken out of each DDL."""

    def __init__(self, path: Path):
        config = path / "config.xml"
        config.write_text(CONFIG)
        super().__init__(f"chdb://{path / 'db'}?database=otel")
        self._options = {"config-file": str(config)}
        self.ddl: list[str] = []

    def _connect(self, **overrides):
        return clickhouse_connect.get_client(dsn=self.url, chdb_options=self._options, **overrides)

    def command(self, sql, parameters=None, settings=None):
        self.ddl.append(sql)
        sql = sql.replace(" ON CLUSTER `prod`", "")
        sql = re.sub(r"ENGINE = Replicated(\w*MergeTree)", r"ENGINE = \1", sql)
        return super().command(sql, parameters, settings)


def main(path: Path) -> None:
    store = OneShardCluster(path).open()
    applied = migrate.migrate(store, cluster="prod", retention_days=30)
    migrate.migrate(store, cluster="prod", retention_days=9)  # retention goes to the shard tables
    requests = [make_request(20), make_request(30)]
    body = b"".join(landing.encode_record(r.SerializeToString(), "shop", time.time_ns()) for r in requests)
    settings = {**landing.insert_settings("segment-1"), **migrate.cluster_settings("prod")}
    for _ in range(2):  # a retried segment is stored once
        store.raw_insert(landing.LANDING_TABLE, body, "Protobuf", settings)
    one = lambda q: store.rows(q)[0][0]
    print(json.dumps({
        "applied": len(applied),
        "engines": dict(store.rows("SELECT name, engine FROM system.tables WHERE database = 'otel'")),
        "distributed_spans": one("SELECT count() FROM otel_traces"),
        "local_spans": one("SELECT count() FROM otel_traces_local"),
        "traces": one("SELECT uniqExact(TraceId) FROM otel_traces"),
        "trace_ranges": one("SELECT count() FROM otel_traces_trace_id_ts"),
        "recorded": one("SELECT count() FROM schema_migrations FINAL"),
        "local_ttl": one("SELECT create_table_query FROM system.tables WHERE database = 'otel' AND name = 'otel_traces_local'"),
        "ddl_without_on_cluster": [s[:80] for s in store.ddl if s.startswith(("CREATE", "ALTER")) and "ON CLUSTER" not in s],
    }))
    store.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
