"""Where the event loop's CPU goes while the real service ingests.

    python -m benchmarks.loop_profile --transport http-protobuf --duration 6 [--top 20] [--keep-raw FILE]

Starts ``collector serve`` on a fresh data directory, warms it up, then loads it
with the load generator while ``py-spy`` samples the service (only the thread
holding the GIL, so threads waiting for the disk or the store are not counted).
Prints the event-loop thread's CPU per span (from ``/proc``) and its frames
with the largest share of samples, by self and by inclusive time.
"""
from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.ingest import TRANSPORTS, Bench

_LINE = re.compile(r":\d+\)")


def top_frames(raw: str, thread: str = "MainThread") -> tuple[int, collections.Counter, collections.Counter]:
    """Samples of ``thread`` in py-spy's raw (collapsed) output, by self and inclusive frame."""
    own, inclusive, total = collections.Counter(), collections.Counter(), 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not frames[0].startswith("thread") or thread not in frames[0]:
            continue
        frames = [_LINE.sub(")", f) for f in frames[1:]]
        if not frames:  # a sample outside any Python frame
            continue
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    return total, own, inclusive


def profile(transport: str, duration: float, rate: float) -> tuple[dict, str]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp) / "data", 4).start()
        try:
            bench.load("warm-up", transport, 1.5, drain=False)
            out = Path(tmp) / "profile.txt"
            sampler = subprocess.Popen(
                [spy, "record", "--pid", str(bench.svc.proc.pid), "--format", "raw", "--rate", "200", "--gil",
                 "--nonblocking", "--threads", "--duration", str(int(duration) + 1), "--output", str(out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            figures = bench.load("profiled", transport, duration, rate=rate, drain=False)
            sampler.wait(timeout=duration + 30)
            return figures, out.read_text() if out.exists() else ""
        finally:
            bench.svc.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", default="http-protobuf", choices=sorted(TRANSPORTS))
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--rate", type=float, default=0.0, help="offered spans/s (default: closed loop)")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--keep-raw", type=Path, help="also write py-spy's raw samples here")
    args = parser.parse_args(argv)
    figures, raw = profile(args.transport, args.duration, args.rate)
    if args.keep_raw:
        args.keep_raw.write_text(raw)
    total, own, inclusive = top_frames(raw)
    print(f"{args.transport}: {figures['acked_spans']} spans acknowledged, event-loop thread "
          f"{figures['main_thread_cpu_us_per_span']} µs/span, {total} samples holding the GIL")
    for title, counter in (("self", own), ("inclusive", inclusive)):
        print(f"--- {title}")
        for frame, count in counter.most_common(args.top):
            print(f"{count / max(total, 1) * 100:5.1f}%  {frame}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
