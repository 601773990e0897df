"""Versioned schema: ``schema/NNN_name.sql`` applied in order, each recorded once.

Every start runs this, so a migration added in a later release reaches every
existing install. A migration's statements are idempotent (``IF NOT EXISTS``,
``OR REPLACE``), so one interrupted half-way is simply applied again; it is
recorded in ``schema_migrations`` only after all its statements succeeded.

Files are templates, so one set of files serves a single node and a cluster
(schema/README.md has the rule for writing them): ``${ON_CLUSTER}``,
``${REPLICATED}`` (engine prefix), ``${RETENTION_DAYS}``, ``${LOCAL}`` (suffix of
the per-shard storage tables), ``${CLUSTER}`` (the cluster's name as a string
literal, for ``Distributed``) and ``${CLUSTER_ONLY}``, which starts a statement
that only a cluster runs: the ``Distributed`` table in front of each storage
table. On a single node ``${LOCAL}`` is empty and those statements are dropped,
so the single-node schema is exactly what the files say without them.
"""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from collector.store import Store

log = logging.getLogger(__name__)

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schema"
_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")

MIGRATIONS_DDL = """
CREATE TABLE IF NOT EXISTS schema_migrations${LOCAL} ${ON_CLUSTER}
(
    Version UInt32,
    Name String,
    Checksum String,
    AppliedAt DateTime64(3) DEFAULT now64(3)
)
ENGINE = ${REPLICATED}ReplacingMergeTree
ORDER BY Version;

${CLUSTER_ONLY}CREATE TABLE IF NOT EXISTS schema_migrations ${ON_CLUSTER} AS schema_migrations${LOCAL}
ENGINE = Distributed(${CLUSTER}, currentDatabase(), schema_migrations${LOCAL}, Version);
"""

# What ${CLUSTER_ONLY} renders to on a single node: statements starting with it are dropped.
SINGLE_NODE_SKIP = "/* cluster only */"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text()

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    def statements(self, variables: dict[str, str]) -> list[str]:
        return render(self.text, variables)


def render(template: str, variables: dict[str, str]) -> list[str]:
    """The statements of one template for one deployment, in order."""
    statements = split_statements(Template(template).substitute(variables))
    return [s for s in statements if not s.startswith(SINGLE_NODE_SKIP)]


def split_statements(sql: str) -> list[str]:
    """Statements end with ';' at the end of a line; '--' comments are dropped."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    parts = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [p.strip() for p in parts if p.strip()]


def discover(schema_dir: Path = SCHEMA_DIR) -> list[Migration]:
    found = []
    for path in sorted(schema_dir.glob("*.sql")):
        match = _NAME.match(path.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in found]
    duplicates = {v for v in versions if versions.count(v) > 1}
    if duplicates:
        raise ValueError(f"schema: two migrations share version(s) {sorted(duplicates)}")
    return found


def template_variables(cluster: str = "", retention_days: int = 30) -> dict[str, str]:
    return {
        "ON_CLUSTER": f"ON CLUSTER `{cluster}`" if cluster else "",
        "REPLICATED": "Replicated" if cluster else "",
        "RETENTION_DAYS": str(int(retention_days)),
        "LOCAL": LOCAL_SUFFIX if cluster else "",
        "CLUSTER": "'" + cluster.replace("\\", "\\\\").replace("'", "\\'") + "'",
        "CLUSTER_ONLY": "" if cluster else SINGLE_NODE_SKIP,
    }


LOCAL_SUFFIX = "_local"


def cluster_settings(cluster: str) -> dict | None:
    """Writes through a Distributed table return once every shard has them."""
    return {"distributed_foreground_insert": 1} if cluster else None


def applied_versions(store: Store) -> set[int]:
    return {row[0] for row in store.rows("SELECT DISTINCT Version FROM schema_migrations")}


def migrate(store: Store, cluster: str = "", retention_days: int = 30, schema_dir: Path = SCHEMA_DIR) -> list[Migration]:
    """Apply every migration not yet recorded; return the ones applied now."""
    variables = template_variables(cluster, retention_days)
    if cluster:  # the store created the database on the one server it reached; every node needs it
        store.command(f"CREATE DATABASE IF NOT EXISTS `{store.database}` {variables['ON_CLUSTER']}")
    for statement in render(MIGRATIONS_DDL, variables):
        store.command(statement)
    done = applied_versions(store)
    applied = []
    for migration in discover(schema_dir):
        if migration.version in done:
            continue
        log.info("applying migration %03d_%s", migration.version, migration.name)
        for statement in migration.statements(variables):
            store.command(statement)
        store.insert(
            "schema_migrations",
            [[migration.version, migration.name, migration.checksum]],
            column_names=["Version", "Name", "Checksum"],
            settings=cluster_settings(cluster),
        )
        applied.append(migration)
    apply_retention(store, retention_days, cluster)
    return applied


RETENTION_TABLES = {
    "otel_traces": "toDateTime(Timestamp)",
    "otel_traces_trace_id_ts": "Start",
    "http_responses_1m": "Minute",
    "http_server_errors_1m": "Minute",
    "http_client_ips_1h": "Hour",
    "http_client_ip_routes_1h": "Hour",
}


def apply_retention(store: Store, retention_days: int, cluster: str = "") -> None:
    """Bring each table's TTL to the configured retention, if it differs.

    The TTL is changed without rewriting existing parts; parts older than the
    new limit are dropped whole as their day ends (ttl_only_drop_parts).
    """
    variables = template_variables(cluster)
    on_cluster = variables["ON_CLUSTER"]
    days = int(retention_days)
    for name, column in RETENTION_TABLES.items():
        table = name + variables["LOCAL"]  # the TTL lives on the storage tables, not the Distributed ones
        current = store.rows(
            "SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
            {"t": table},
        )
        if not current:
            continue
        if f"toIntervalDay({days})" in current[0][0]:
            continue
        log.info("setting retention of %s to %d days", table, days)
        store.command(
            f"ALTER TABLE {table} {on_cluster} MODIFY TTL {column} + toIntervalDay({days})",
            settings={"materialize_ttl_after_modify": 0},
        )
