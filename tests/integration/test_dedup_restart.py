"""An insert token still drops a repeat after the engine restarts (a replay after a crash)."""
from __future__ import annotations

import subprocess
import sys

from tests.harness import ROOT

INSERT = """
import sys
from collector import landing, migrate
from collector.store import Store
store = Store("chdb://" + sys.argv[1]).open()
migrate.migrate(store)
body = open(sys.argv[2], "rb").read()
store.raw_insert(landing.LANDING_TABLE, body, "Protobuf", landing.insert_settings("segment-x:protobuf:0-19"))
print(*store.rows("SELECT count(), uniqExact(SpanId) FROM otel_traces")[0])
store.close()
"""


def test_a_token_outlives_an_engine_restart(tmp_path):
    from collector import landing
    from tests.otlp_factory import make_request

    requests = [make_request(5) for _ in range(20)]
    body_file = tmp_path / "body"
    body_file.write_bytes(b"".join(landing.encode_record(r.SerializeToString(), "app", 1) for r in requests))
    data = tmp_path / "data"
    for _ in range(2):  # each run is a fresh process: the engine starts from its files
        done = subprocess.run([sys.executable, "-c", INSERT, str(data / "clickhouse"), str(body_file)],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["100", "100"], done.stdout
