"""The pipeline's settings: each mistake named, and what they turn into."""
import pytest

from collector.config import Config
from collector.pipeline import Pipeline


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"wal_max_bytes": 1000}, "wal_max_bytes: 1000 must be at least"),
        ({"wal_segment_max_age_ms": 0}, "wal_segment_max_age_ms: 0 must be at least 10"),
        ({"wal_group_commit_us": -1}, "wal_group_commit_us: -1 must be at least 0"),
        ({"writer_retry_max_backoff_ms": 5}, "writer_retry_max_backoff_ms: 5 must be at least"),
        ({"wal_segment_max_bytes": 512 << 20}, "wal_segment_max_bytes: must be at most a quarter"),
        ({"wal_inflight_max_bytes": 2 << 30}, "wal_inflight_max_bytes: must not exceed"),
        ({"wal_inflight_max_bytes": 8 << 20}, "wal_inflight_max_bytes: must exceed max_body_bytes"),
    ],
)
def test_each_bad_pipeline_setting_is_named(tmp_path, kwargs, expected):
    problems = Config(data_dir=str(tmp_path), **kwargs).validate()
    assert problems and problems[0].startswith(expected), problems  # a tiny budget also breaks the limits below it


def test_an_unwritable_wal_dir_is_named(tmp_path):
    (tmp_path / "file").write_text("")
    problems = Config(data_dir=str(tmp_path), wal_dir=str(tmp_path / "file" / "wal")).validate()
    assert len(problems) == 1 and problems[0].startswith("wal_dir:"), problems


def test_settings_reach_the_log_and_the_writer(tmp_path):
    cfg = Config(data_dir=str(tmp_path), wal_segment_max_age_ms=250, wal_group_commit_us=500,
                 writer_retry_max_backoff_ms=2000, shutdown_drain_timeout_ms=1500)
    pipeline = Pipeline.from_config(None, cfg)
    assert pipeline.wal.dir == tmp_path / "wal" and pipeline.writer.dead_letter_dir == tmp_path / "dead-letter"
    assert (pipeline.wal.limits.segment_max_age, pipeline.wal.limits.commit_window) == (0.25, 0.0005)
    assert (pipeline.writer.limits.retry_max, pipeline.drain_timeout) == (2.0, 1.5)
    assert Pipeline.from_config(None, Config(data_dir=str(tmp_path), wal_dir=str(tmp_path / "x"))).wal.dir == tmp_path / "x"


def test_on_a_cluster_inserts_wait_for_every_shard(tmp_path):
    single = Pipeline.from_config(None, Config(data_dir=str(tmp_path)))
    cluster = Pipeline.from_config(None, Config(data_dir=str(tmp_path), store_url="http://ch:8123/otel", cluster="prod"))
    assert single.writer.limits.insert_settings == ()
    assert dict(cluster.writer.limits.insert_settings) == {"distributed_foreground_insert": 1}
