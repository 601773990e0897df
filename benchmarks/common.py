"""What every benchmark shares: the results file, the machine, process CPU and memory."""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "results.jsonl"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def machine() -> dict:
    load = os.getloadavg()
    return {"cpus": os.cpu_count(), "loadavg_1m": round(load[0], 2), "python": sys.version.split()[0]}


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5)
        return out.stdout.strip()
    except OSError:
        return ""


def record(benchmark: str, figures: dict, config: dict, results: Path | None) -> dict:
    """Print the figures and append them, with the machine and the commit, to the results file."""
    entry = {
        "benchmark": benchmark,
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(), "machine": machine(), "config": config, "figures": figures,
    }
    print(json.dumps(entry, indent=1))
    if results is not None:
        results.parent.mkdir(parents=True, exist_ok=True)
        with open(results, "a") as out:
            out.write(json.dumps(entry) + "\n")
    return entry


def add_results_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"JSON-lines file to append to (default {RESULTS})")
    parser.add_argument("--no-results", dest="results", action="store_const", const=None, help="print only")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a whole process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds per thread name of a process (ClickHouse names its threads; Python's keep the process name)."""
    by_name: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        by_name[name] = by_name.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / CLK_TCK
    return by_name


def thread_cpu_delta(before: dict[str, float], after: dict[str, float], spans: int, top: int = 8) -> dict[str, float]:
    """CPU microseconds per span by thread name between two ``thread_cpu_seconds`` readings."""
    delta = {name: after[name] - before.get(name, 0.0) for name in after}
    ranked = sorted(delta.items(), key=lambda kv: -kv[1])[:top]
    return {name: round(sec / max(spans, 1) * 1e6, 2) for name, sec in ranked if sec > 0}


def rss_bytes(pid: int, field: str = "VmRSS") -> int:
    """Resident memory; ``field="RssAnon"`` leaves out file pages (the engine's shared library)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]
