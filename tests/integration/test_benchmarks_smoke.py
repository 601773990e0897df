"""Every benchmark command in a tiny configuration, so none of them rots.

The figures of such short runs mean nothing; what is checked is that each
command runs to the end, measures what it says (spans acknowledged are the spans
stored, queries answer 200), appends its record and draws its plot.
"""
import json
import subprocess
import sys

from tests.harness import ROOT


def bench(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-4000:]
    return out


def records(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_store_ceiling_and_schema_variants(tmp_path):
    results = tmp_path / "results.jsonl"
    bench("benchmarks.store_ceiling", "--spans", "5000", "--segment-mib", "1", "--bytes-per-span", "--results", str(results))
    bench("benchmarks.schema_variants", "--spans", "2000", "--results", str(results))
    ceiling, variants = records(results)
    assert ceiling["figures"]["stored"] == ceiling["figures"]["spans"] == 5000
    assert ceiling["figures"]["spans_per_s"] > 0 and 5 < ceiling["figures"]["disk"]["bytes_per_span"] < 1000
    assert {"baseline", "zstd3", "combined"} <= set(variants["figures"])
    assert all(v["bytes_per_span"] > 0 for v in variants["figures"].values())


def test_ingest_phases_and_plot(tmp_path):
    results = tmp_path / "results.jsonl"
    bench("benchmarks.ingest", "--phases", "ceiling,transports,sweep,overload",
          "--transports", "http-protobuf,http-json-gzip,grpc", "--duration", "1", "--ceiling-spans", "5000",
          "--sweep", "0.5", "--overload-seconds", "1", "--results", str(results))
    (entry,) = records(results)
    figures = entry["figures"]
    for phase in [*figures["transports"].values(), *figures["sweep"]]:
        assert phase["stored_matches_acked"], phase
    assert 0 < figures["overload"]["stored_spans"] <= figures["overload"]["acked_spans"]
    assert all(p["acked_spans"] > 0 and p["service_cpu_us_per_span"] > 0 for p in figures["transports"].values())
    assert figures["overload"]["peak_rss_mib"] > 10
    png = tmp_path / "sweep.png"
    bench("benchmarks.plot", "--results", str(results), "--out", str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_queries_on_a_small_dataset_through_the_api(tmp_path):
    results = tmp_path / "results.jsonl"
    bench("benchmarks.queries", "--spans", "20000", "--runs", "2", "--data-dir", str(tmp_path / "data"),
          "--results", str(results))
    bench("benchmarks.queries", "--spans", "20000", "--runs", "2", "--data-dir", str(tmp_path / "data"),
          "--mode", "sql", "--no-bytes", "--results", str(results))
    api, sql = records(results)
    assert api["figures"]["stored_spans"] == sql["figures"]["stored_spans"] == 20000
    assert api["figures"]["disk"]["bytes_per_span"] > 0
    assert set(api["figures"]["latency"]) == set(sql["figures"]["latency"])
    assert all(q["non_200"] == 0 for q in api["figures"]["latency"].values())
