"""The cluster schema: ClickHouse's own parser accepts every statement, and it runs on a one-shard cluster."""
import json
import subprocess
import sys

from collector import migrate
from tests.harness import ROOT


def all_statements(variables: dict) -> list[str]:
    statements = migrate.render(migrate.MIGRATIONS_DDL, variables)
    for migration in migrate.discover():
        statements += migration.statements(variables)
    return statements


def test_every_statement_parses_with_clickhouses_parser(fresh_store):
    single = all_statements(migrate.template_variables())
    cluster = all_statements(migrate.template_variables("prod", 7))
    assert len(cluster) > len(single)
    for statement in single + cluster:
        formatted = fresh_store.rows("SELECT formatQuery({q:String})", {"q": statement})[0][0]
        assert formatted.split()[:2] == statement.split()[:2]
    formatted = [fresh_store.rows("SELECT formatQuery({q:String})", {"q": s})[0][0] for s in cluster if s.startswith("CREATE")]
    assert all("ON CLUSTER prod" in f for f in formatted)
    assert sum("ENGINE = Distributed('prod', currentDatabase()" in f for f in formatted) >= 5


def test_cluster_schema_runs_on_a_one_shard_cluster(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tests.integration.cluster_probe", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    engines = found["engines"]
    for table in ("otel_traces", "otel_traces_trace_id_ts", "applications", "runtime_keys", "schema_migrations"):
        assert engines[table] == "Distributed" and engines[table + "_local"].endswith("MergeTree"), table
    assert engines["otlp_landing"] == "Null"
    # 50 spans of 50 traces, inserted twice with one token: landed once, through the Distributed table
    assert (found["distributed_spans"], found["local_spans"], found["traces"], found["trace_ranges"]) == (50, 50, 50, 50)
    assert found["recorded"] == found["applied"] == len(migrate.discover())
    assert "toIntervalDay(9)" in found["local_ttl"]
    assert found["ddl_without_on_cluster"] == []
