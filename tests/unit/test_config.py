import pytest

from collector.config import Config, ConfigError, load


def test_defaults_use_embedded_store_under_data_dir(tmp_path):
    cfg = Config(data_dir=str(tmp_path))
    assert cfg.resolved_store_url == f"chdb://{tmp_path}/clickhouse"
    assert cfg.validate() == []


def test_flags_override_environment(tmp_path):
    cfg = load({"api_port": "9999"}, environ={"COLLECTOR_API_PORT": "7777", "COLLECTOR_HTTP_PORT": "5555"})
    assert (cfg.api_port, cfg.http_port) == (9999, 5555)


def test_non_numeric_port_names_the_setting():
    with pytest.raises(ConfigError, match="grpc_port: 'abc'"):
        load({}, environ={"COLLECTOR_GRPC_PORT": "abc"})


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"store_url": "mysql://db/x"}, "store_url: unknown scheme 'mysql'"),
        ({"api_port": 70000}, "api_port: 70000 is not a TCP port"),
        ({"retention_days": 0}, "retention_days: 0 must be at least 1"),
        ({"log_format": "xml"}, "log_format: 'xml'"),
        ({"store_url": "chdb:///x", "cluster": "c1"}, "cluster: ON CLUSTER needs a ClickHouse server"),
    ],
)
def test_each_bad_setting_is_named(tmp_path, kwargs, expected):
    problems = Config(data_dir=str(tmp_path), **kwargs).validate()
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_unwritable_data_dir_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    problems = Config(data_dir=str(blocker / "sub")).validate()
    assert problems and problems[0].startswith("data_dir: ")


def test_password_is_not_echoed(tmp_path):
    problems = Config(data_dir=str(tmp_path), store_url="ftp://u:secret@h/db").validate()
    assert "secret" not in problems[0]


def test_cluster_name_must_be_a_plain_name(tmp_path):
    from collector.config import Config

    bad = Config(data_dir=str(tmp_path), store_url="http://h:8123/db", cluster="prod`; DROP")
    assert any(p.startswith("cluster: ") for p in bad.validate())
    assert Config(data_dir=str(tmp_path), store_url="http://h:8123/db", cluster="otel-prod_1").validate() == []
