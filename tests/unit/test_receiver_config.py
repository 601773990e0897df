"""The receiver's settings: defaults, flags and their checks."""
from collector.config import Config, load


def test_receiver_limits_have_defaults_and_load_from_the_environment():
    cfg = load(environ={"COLLECTOR_MAX_BODY_BYTES": "1000", "COLLECTOR_MAX_SPANS_PER_REQUEST": "7"})
    assert (cfg.max_body_bytes, cfg.max_spans_per_request) == (1000, 7)
    assert Config().max_attribute_value_length > 0 and Config().max_concurrent_requests > 0


def test_receiver_limits_below_one_name_their_setting(tmp_path):
    problems = Config(data_dir=str(tmp_path), max_body_bytes=0, max_concurrent_requests=-1).validate()
    assert any(p.startswith("max_body_bytes: ") for p in problems)
    assert any(p.startswith("max_concurrent_requests: ") for p in problems)
