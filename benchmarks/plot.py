"""Throughput and acknowledgement latency against offered load, from the latest sweep.

Reads the newest ``ingest`` record with a sweep in the results file and draws
acknowledged spans/s and p50/p99 latency for each offered rate into a PNG.

    python -m benchmarks.plot [--results benchmarks/results/results.jsonl] [--out benchmarks/results/sweep.png]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks import common


def latest_sweep(results: Path) -> dict:
    entries = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    sweeps = [e for e in entries if e["benchmark"] == "ingest" and e["figures"].get("sweep")]
    if not sweeps:
        raise SystemExit(f"no ingest record with a sweep in {results}: run python -m benchmarks.ingest first")
    return sweeps[-1]


def draw(entry: dict, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = entry["figures"]["sweep"]
    offered = [p["offered_spans_per_s"] / 1000 for p in points]
    fig, left = plt.subplots(figsize=(8, 4.5), dpi=110)
    left.plot(offered, [p["acked_spans_per_s"] / 1000 for p in points], "o-", color="tab:blue", label="acknowledged")
    left.plot(offered, [p["stored_spans_per_s"] / 1000 for p in points], "s--", color="tab:cyan", label="stored (until log drained)")
    left.plot(offered, offered, ":", color="grey", label="offered")
    left.set_xlabel("offered load (thousand spans/s, OTLP/HTTP protobuf, 1,000-span requests)")
    left.set_ylabel("throughput (thousand spans/s)")
    right = left.twinx()
    right.plot(offered, [p["p50_ms"] for p in points], "^-", color="tab:orange", label="p50 ack latency")
    right.plot(offered, [p["p99_ms"] for p in points], "v-", color="tab:red", label="p99 ack latency")
    right.set_yscale("log")
    right.set_ylabel("acknowledgement latency (ms, log)")
    handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    fig.legend(handles, [h.get_label() for h in handles], loc="upper left", fontsize=8, bbox_to_anchor=(0.09, 0.88))
    fig.suptitle(f"snk-collector ingest, embedded store, {entry['machine']['cpus']} shared cores "
                 f"(load {entry['machine']['loadavg_1m']}), {entry['time'][:16]} commit {entry['commit']}", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=common.RESULTS)
    parser.add_argument("--out", type=Path, default=common.RESULTS.parent / "sweep.png")
    args = parser.parse_args(argv)
    print(draw(latest_sweep(args.results), args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
