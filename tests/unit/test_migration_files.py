from collector import migrate


def test_split_statements_ignores_comments_and_keeps_inner_semicolons():
    sql = "-- a comment; not a statement\nCREATE TABLE a (x String DEFAULT ';');\n\nSELECT 1;\n"
    assert migrate.split_statements(sql) == ["CREATE TABLE a (x String DEFAULT ';')", "SELECT 1"]


def test_shipped_migrations_are_numbered_without_gaps_or_twins():
    versions = [m.version for m in migrate.discover()]
    assert versions == list(range(1, len(versions) + 1))


def test_every_migration_renders_for_single_node_and_cluster():
    for migration in migrate.discover():
        single = migration.statements(migrate.template_variables())
        cluster = migration.statements(migrate.template_variables("prod", 7))
        assert len(single) == len(cluster) > 0
        assert all("${" not in s for s in single + cluster)
        assert not any("ON CLUSTER" in s for s in single)
        assert all("ON CLUSTER `prod`" in s for s in cluster if s.startswith("CREATE"))
