import hashlib
import re

from collector import migrate

CLUSTER = migrate.template_variables("prod", 7)
SINGLE = migrate.template_variables()


def test_split_statements_ignores_comments_and_keeps_inner_semicolons():
    sql = "-- a comment; not a statement\nCREATE TABLE a (x String DEFAULT ';');\n\nSELECT 1;\n"
    assert migrate.split_statements(sql) == ["CREATE TABLE a (x String DEFAULT ';')", "SELECT 1"]


def test_shipped_migrations_are_numbered_without_gaps_or_twins():
    versions = [m.version for m in migrate.discover()]
    assert versions == list(range(1, len(versions) + 1))


def cluster_only(text: str) -> int:
    return len(re.findall(r"^\$\{CLUSTER_ONLY\}", text, flags=re.MULTILINE))


def test_every_migration_renders_for_single_node_and_cluster():
    for migration in migrate.discover():
        single = migration.statements(SINGLE)
        cluster = migration.statements(CLUSTER)
        assert len(single) + cluster_only(migration.text) == len(cluster) > 0, migration.name
        assert all("${" not in s and "cluster only" not in s for s in single + cluster)
        assert not any("ON CLUSTER" in s or "_local" in s or "Distributed" in s for s in single)


# Digests of the single-node statements of 001-003: the cluster variables must leave the
# single-node schema unchanged to the byte. 001's digest was renewed once, on purpose,
# before the first release (nothing installed yet): the trace-id table's granules went
# from 8,192 to 1,024 rows and its redundant bloom filter was dropped. 003's was renewed
# once too, before the first release: the span kind, status and HTTP-column expressions both
# landing views repeated became SQL functions (otlp_span_kind, http_method, ...) they share.
MAIN_SINGLE_NODE = {
    "otel_traces": "6d801641dd4ffcbeee06955926040984a187f9abe88f9997344b37b67289483c",
    "keys": "c339b87ec54187ae5abc95da961f889c3c3e2892631eb4f772a43b68c095f005",
    "otlp_landing": "44abf1c58407a08e52d943498598b6b0fab736620abd1c28b37ed3559e0b69f4",
}
MAIN_MIGRATIONS_DDL = """CREATE TABLE IF NOT EXISTS schema_migrations 
(
    Version UInt32,
    Name String,
    Checksum String,
    AppliedAt DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY Version"""


def test_single_node_rendering_is_unchanged_from_main():
    for migration in migrate.discover():
        if migration.name in MAIN_SINGLE_NODE:
            rendered = "\n;\n".join(migration.statements(SINGLE))
            assert hashlib.sha256(rendered.encode()).hexdigest() == MAIN_SINGLE_NODE[migration.name], migration.name
    assert migrate.render(migrate.MIGRATIONS_DDL, SINGLE) == [MAIN_MIGRATIONS_DDL]


# --- the rule of schema/README.md, checked on every migration, present and future ---

DDL = re.compile(r"^(CREATE|ALTER|DROP|RENAME|TRUNCATE|EXCHANGE)\b", re.IGNORECASE)
CREATE_TABLE = re.compile(r"^CREATE TABLE IF NOT EXISTS (\w+) ON CLUSTER `prod`", re.IGNORECASE)
ENGINE = re.compile(r"\bENGINE = (\w+)")
DISTRIBUTED = re.compile(r"ENGINE = Distributed\('prod', currentDatabase\(\), (\w+)(, [^;]+)?\)$")
MV = re.compile(r"^CREATE MATERIALIZED VIEW IF NOT EXISTS \w+ ON CLUSTER `prod`\s+TO (\w+).*?\bFROM (\w+)", re.DOTALL)
ALTER_TABLE = re.compile(r"^ALTER TABLE (\w+)", re.IGNORECASE)


def cluster_statements() -> list[str]:
    statements = migrate.render(migrate.MIGRATIONS_DDL, CLUSTER)
    for migration in migrate.discover():
        statements += migration.statements(CLUSTER)
    return statements


def cluster_tables() -> dict[str, str]:
    """Table name -> engine name, over the whole cluster schema."""
    tables = {}
    for statement in cluster_statements():
        name, engine = CREATE_TABLE.match(statement), ENGINE.search(statement)
        if name and engine:
            tables[name.group(1)] = engine.group(1)
    return tables


def test_cluster_ddl_runs_on_every_node():
    for statement in cluster_statements():
        if DDL.match(statement):
            assert "ON CLUSTER `prod`" in statement, statement[:120]


def test_cluster_storage_tables_are_replicated_local_and_fronted_by_distributed():
    tables = cluster_tables()
    storage = {n: e for n, e in tables.items() if e.endswith("MergeTree")}
    assert {"otel_traces_local", "otel_traces_trace_id_ts_local", "runtime_keys_local", "schema_migrations_local"} <= set(storage)
    for name, engine in storage.items():
        assert engine.startswith("Replicated") and name.endswith("_local"), (name, engine)
        front = name.removesuffix("_local")
        assert tables.get(front) == "Distributed", f"{name} has no Distributed table {front} in front"
    for statement in cluster_statements():
        match = DISTRIBUTED.search(statement)
        if match:
            assert match.group(1) in storage, statement


def test_cluster_views_read_what_is_inserted_on_this_node():
    """A view fires on inserts into its source: a landing (Null) table or a shard's local table,
    never a Distributed one (nothing is stored there, so the view would never fire)."""
    tables = cluster_tables()
    views = [MV.match(s) for s in cluster_statements() if s.startswith("CREATE MATERIALIZED VIEW")]
    assert views and all(views)
    for view in views:
        target, source = view.groups()
        assert tables[source] == "Null" or source.endswith("_local"), view.group(0)[:120]
        assert target in tables, target


def test_cluster_alters_change_the_storage_table_and_its_front():
    statements = cluster_statements()
    altered = [ALTER_TABLE.match(s).group(1) for s in statements if ALTER_TABLE.match(s)]
    tables = cluster_tables()
    for name in altered:
        assert tables.get(name) != "Distributed" or name + "_local" in altered, name
        if name.endswith("_local") and "ADD COLUMN" in " ".join(s for s in statements if s.startswith(f"ALTER TABLE {name}")):
            assert name.removesuffix("_local") in altered, f"{name} gained a column its Distributed table lacks"
